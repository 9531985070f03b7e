// Shop drawings and material specs: where each stands, whose move it is (ball in court),
// and the workflow actions the API allows the signed-in user on the selected one.
import {useState} from "../vendor/preact-hooks.mjs";
import {select, transition} from "./actions.js";
import {nameOf} from "./data.js";
import {ExportMenu} from "./export-menu.js";
import {html} from "./html.js";
import {actionLabel, amount, NEEDS_COMMENT, statusLabel} from "./labels.js";
import {typing} from "./live.js";

const PARTY = {submitter: "submitter", reviewer: "reviewer"};

/** Whose move a drawing is: the API names the party and, when known, the person. */
function drawingCourt(drawing, me) {
  const party = drawing.ball_in_court_party;
  if (!party) return "Closed — nobody's move";
  const role = PARTY[party] || party;
  if (!drawing.ball_in_court) return `Ball in court: the ${role}`;
  const who = drawing.ball_in_court === me ? "You" : nameOf(drawing.ball_in_court);
  return `Ball in court: ${who} (${role})`;
}

/** Whose move a material spec is, from its stage in the approval and procurement flow. */
function specCourt(spec, me) {
  const submitter = spec.created_by ? (spec.created_by === me ? "You" : nameOf(spec.created_by)) : "";
  switch (spec.status) {
    case "pending":
    case "revision_required":
      return `Ball in court: ${submitter ? `${submitter} (submitter)` : "the submitter"}`;
    case "pending_approval": return "Ball in court: the approver";
    case "approved": case "ordered": case "in_stock": return "Ball in court: procurement";
    case "delivered": return "Ball in court: the site team";
    default: return "Closed — nobody's move";
  }
}

function ActionForm({kind, resource, record}) {
  const actions = record.allowed_actions || [];
  const [wanted, setAction] = useState(actions[0] || "");
  // A reread may change what is allowed without a new version: never offer a stale action.
  const action = actions.includes(wanted) ? wanted : actions[0] || "";
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  if (actions.length === 0) {
    return html`<p class="note" id=${`${kind}-no-action`}>Nothing for you to do at this stage.</p>`;
  }
  const needsComment = NEEDS_COMMENT.has(action);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    if (await transition(resource, record, action, comment.trim())) setComment("");
    setBusy(false);
  };
  const live = resource === "shop_drawing";
  return html`<form id=${`${kind}-form`} class="inline-form" onSubmit=${submit}>
    <label for=${`${kind}-action`}>Next step</label>
    <select id=${`${kind}-action`} value=${action} onChange=${(e) => setAction(e.currentTarget.value)}>
      ${actions.map((a) => html`<option value=${a} selected=${a === action}>${actionLabel(a)}</option>`)}
    </select>
    <label for=${`${kind}-comment`}>Comment${needsComment ? " (required)" : " (optional)"}</label>
    <textarea id=${`${kind}-comment`} rows="2" maxlength="2000" required=${needsComment}
              value=${comment} onInput=${(e) => setComment(e.currentTarget.value)}
              onFocus=${() => live && typing(record, true)}
              onBlur=${() => live && typing(record, false)}></textarea>
    <button type="submit" class="primary" disabled=${busy || (needsComment && !comment.trim())}>
      ${busy ? "Applying…" : actionLabel(action)}
    </button>
  </form>`;
}

function Item({kind, resource, record, heading, meta, court, selected, changed, epoch}) {
  return html`<li class=${`item${selected ? " selected" : ""}${changed ? " changed" : ""}`}
                  data-id=${record.id}>
    <button type="button" class="item-head" aria-expanded=${selected}
            onClick=${() => select(kind, record.id)}>
      <span class="item-title">${heading}</span>
      <span class=${`badge s-${record.status}`}>${statusLabel(resource, record.status)}</span>
      <span class="item-meta"><span>${meta}</span><span class="court">${court}</span></span>
    </button>
    ${selected && html`<${ActionForm} key=${`${record.id}:${record.version}:${epoch}`} kind=${kind}
                                      resource=${resource} record=${record}/>`}
  </li>`;
}

function byStatusThenName(order, name) {
  return (a, b) => (order.indexOf(a.status) - order.indexOf(b.status)) || name(a).localeCompare(name(b));
}

const DRAWING_ORDER = ["in_review", "submitted", "revise_and_resubmit", "rejected", "draft",
                       "approved_as_noted", "approved", "void"];
const SPEC_ORDER = ["pending_approval", "revision_required", "pending", "approved", "ordered",
                    "in_stock", "delivered", "used", "rejected"];

export function Drawings({state}) {
  const me = state.session.user.id;
  const drawings = [...state.drawings.values()].sort(byStatusThenName(DRAWING_ORDER, (d) => d.drawing_number));
  return html`<section id="drawings-section" class="card" aria-labelledby="drawings-title">
    <div class="card-head"><h2 id="drawings-title">Shop drawings</h2><${ExportMenu} list="drawings" state=${state}/></div>
    <ul id="drawings" class="items">
      ${drawings.map((d) => html`<${Item} key=${d.id} kind="drawing" resource="shop_drawing" record=${d}
          heading=${`${d.drawing_number} · ${d.title}`} meta=${d.revision || ""}
          court=${drawingCourt(d, me)} selected=${state.selected.drawing === d.id}
          changed=${state.changed === d.id} epoch=${state.epoch}/>`)}
    </ul>
    ${drawings.length === 0 && html`<p class="empty">No shop drawings yet.</p>`}
    ${state.typing && html`<p id="typing" class="note">${state.typing}</p>`}
  </section>`;
}

function specMeta(spec) {
  const quantity = spec.quantity ? `${amount(spec.quantity, 3)} ${spec.unit || ""}`.trim() : "";
  const cost = spec.total_cost ? `${amount(spec.total_cost, 2)} ${spec.currency || ""}`.trim() : "";
  return [spec.category, quantity, cost].filter(Boolean).join(" · ");
}

export function Specs({state}) {
  const me = state.session.user.id;
  const specs = [...state.specs.values()].sort(byStatusThenName(SPEC_ORDER, (s) => s.description));
  return html`<section id="specs-section" class="card" aria-labelledby="specs-title">
    <div class="card-head"><h2 id="specs-title">Material specs</h2><${ExportMenu} list="specs" state=${state}/></div>
    <ul id="specs" class="items">
      ${specs.map((s) => html`<${Item} key=${s.id} kind="spec" resource="material_spec" record=${s}
          heading=${s.code ? `${s.code} · ${s.description}` : s.description} meta=${specMeta(s)}
          court=${specCourt(s, me)} selected=${state.selected.spec === s.id}
          changed=${state.changed === s.id} epoch=${state.epoch}/>`)}
    </ul>
    ${specs.length === 0 && html`<p class="empty">No material specs yet.</p>`}
  </section>`;
}
