// Snags on the drawing: a sheet (a drawing revision that holds pins) with its snags pinned
// where they are (x, y fractions of the sheet), a pin opening its snag; and the snag list
// by number, each row opening the same snag.
import {useEffect} from "../vendor/preact-hooks.mjs";
import {nameOf} from "./data.js";
import {ExportMenu} from "./export-menu.js";
import {html} from "./html.js";
import {humanize, plural, shortDate} from "./labels.js";
import {openSnag, pinnedSheets, pinPlace, showSheet, SNAG_STATUS} from "./snags.js";

const OPEN = (snag) => snag.status !== "closed";

/** A sheet's name: its drawing's number and title, and the revision's code when known. */
function sheetName(register, sheet) {
  const drawing = register.get(sheet.drawingId);
  if (!drawing) return "A drawing";
  const revisions = drawing.revisions || (drawing.current_revision ? [drawing.current_revision] : []);
  const revision = revisions.find((r) => r.id === sheet.revisionId);
  // A closed snag keeps the pin of the sheet it was closed on: an earlier revision.
  return `${drawing.number} · ${drawing.title} · ${revision ? revision.revision : "an earlier revision"}`;
}

function Pin({snag, open}) {
  return html`<button type="button" class=${`pin p-${snag.priority}${OPEN(snag) ? "" : " closed"}${open ? " selected" : ""}`}
      data-id=${snag.id} data-x=${snag.pin_x} data-y=${snag.pin_y} style=${pinPlace(snag)}
      aria-pressed=${open} aria-label=${`Snag ${snag.number}: ${snag.title}`} title=${`#${snag.number} ${snag.title}`}
      onClick=${() => openSnag(snag.id)}><span class="dot" aria-hidden="true">${snag.number}</span></button>`;
}

function Sheet({state, sheet}) {
  const file = state.files.get(sheet.revisionId);
  const url = file ? state.thumbs.get(file.id) : null;
  const pins = [...state.snags.values()].filter((s) => s.drawing_revision_id === sheet.revisionId
    && s.pin_x !== null && s.pin_y !== null).sort((a, b) => a.number - b.number);
  return html`<div class="sheet-view">
    ${url ? html`<div class="sheet-frame" id="snag-sheet" data-revision=${sheet.revisionId}>
        <img class="sheet-image" src=${url} alt=${`Sheet ${sheetName(state.register, sheet)}`}/>
        ${pins.map((s) => html`<${Pin} key=${s.id} snag=${s} open=${state.openSnag === s.id}/>`)}
      </div>`
      : html`<p class="note" id="snag-sheet-none">${file === undefined || file ? "Reading the sheet…"
        : "This sheet has no image to pin on."}</p>`}
  </div>`;
}

function SnagBody({snag, now}) {
  const people = (snag.assignee_user_ids || []).map(nameOf).join(", ");
  const facts = [["Location", [snag.location, snag.room].filter(Boolean).join(" · ")],
                 ["Trade", snag.trade], ["Priority", humanize(snag.priority)],
                 ["Category", snag.category === "client_preference" ? "Client preference" : "Defect"],
                 ["Due", snag.due_on ? shortDate(snag.due_on, now) : ""], ["Assigned to", people],
                 ["Manager", snag.manager_id ? nameOf(snag.manager_id) : ""],
                 ["Photos", snag.photo_count ? String(snag.photo_count) : ""]]
    .filter(([, v]) => v);
  return html`<div class="snag-body" id=${`snag-${snag.id}`}>
    ${snag.description && html`<p class="text">${snag.description}</p>`}
    ${snag.pin_needs_check && html`<p class="note warn">The sheet changed under this pin: check its place.</p>`}
    <dl class="facts">${facts.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
  </div>`;
}

function SnagRow({snag, open, changed, now}) {
  return html`<li class=${`item snag${open ? " selected" : ""}${changed ? " changed" : ""}`}
                  data-id=${snag.id} data-status=${snag.status}>
    <button type="button" class="item-head" aria-expanded=${open} onClick=${() => openSnag(snag.id)}>
      <span class="item-title">#${snag.number} · ${snag.title}</span>
      <span class=${`badge s-snag-${snag.status}`}>${SNAG_STATUS[snag.status] || humanize(snag.status)}</span>
      <span class="item-meta">
        ${snag.overdue && html`<span class="due overdue">Overdue</span>`}
        ${snag.due_on && !snag.overdue && html`<span class="due">Due <time datetime=${snag.due_on}>${shortDate(snag.due_on, now)}</time></span>`}
        ${snag.trade && html`<span>${snag.trade}</span>`}
        ${snag.pin_x !== null && html`<span class="pinned">Pinned</span>`}
      </span>
    </button>
    ${open && html`<${SnagBody} snag=${snag} now=${now}/>`}
  </li>`;
}

export function Snags({state}) {
  const sheets = [...pinnedSheets(state.snags).values()]
    .sort((a, b) => sheetName(state.register, a).localeCompare(sheetName(state.register, b)));
  const chosen = sheets.find((s) => s.revisionId === state.snagSheet) || sheets[0] || null;
  useEffect(() => {
    if (chosen && chosen.revisionId !== state.snagSheet) showSheet(chosen.revisionId);
  }, [chosen && chosen.revisionId]);
  if (state.session.user.role === "client" && state.snags.size === 0) return null;
  const snags = [...state.snags.values()].sort((a, b) => a.number - b.number);
  const open = snags.filter(OPEN).length;
  return html`<section id="snags-section" class="card" aria-labelledby="snags-title">
    <div class="card-head"><h2 id="snags-title">Snags</h2>
      <span class="muted" id="snags-count">${open} open of ${snags.length}</span>
      <${ExportMenu} list="snags" state=${state}/></div>
    ${sheets.length > 0 && html`<label for="snag-drawing">Drawing</label>
      <select id="snag-drawing" value=${chosen.revisionId} onChange=${(e) => showSheet(e.currentTarget.value)}>
        ${sheets.map((s) => html`<option value=${s.revisionId} selected=${s === chosen}>${sheetName(state.register, s)} (${plural(s.count, "pin")})</option>`)}
      </select>
      <${Sheet} state=${state} sheet=${chosen}/>`}
    <ul id="snags" class="items">
      ${snags.map((s) => html`<${SnagRow} key=${s.id} snag=${s} open=${state.openSnag === s.id}
          changed=${state.changed === s.id} now=${state.now}/>`)}
    </ul>
    ${snags.length === 0 && html`<p class="empty">No snags in this project yet.</p>`}
  </section>`;
}
