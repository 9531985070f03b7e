// The procurement schedule (each spec's on-site, order-by and submit-by dates, delivery
// status, and the at-risk ones highlighted with their reasons) and scope readiness (ready or
// blocked with the records that block it, and the project's share ready).
import {ExportMenu} from "./export-menu.js";
import {html} from "./html.js";
import {humanize, plural, shortDate, statusLabel} from "./labels.js";
import {DELIVERY, RISKS, setRiskOnly, visibleSchedule} from "./procurement.js";

function When({label, day, now, cls = ""}) {
  return html`<span class=${`when-date ${cls}`}>${label} ${day
    ? html`<time datetime=${day}>${shortDate(day, now)}</time>` : html`<span class="none">—</span>`}</span>`;
}

function Delivery({row, now}) {
  if (!row.delivery_status) return html`<span class="badge delivery none">Not ordered</span>`;
  const on = row[`${row.delivery_status}_on`];
  return html`<span class=${`badge delivery d-${row.delivery_status}`}>${DELIVERY[row.delivery_status]
    || humanize(row.delivery_status)}${on ? ` ${shortDate(on, now)}` : ""}</span>`;
}

function ScheduleRow({row, now}) {
  const date = (day) => (day ? shortDate(day, now) : "?");
  const reasons = row.risk_reasons || [];
  return html`<li class=${`item schedule-row${row.at_risk ? " at-risk" : ""}`} data-id=${row.id}
                  data-risk=${reasons.join(" ")}>
    <div class="row-head">
      <span class="item-title">${row.code ? `${row.code} · ` : ""}${row.description}</span>
      <span class=${`badge s-${row.status}`}>${statusLabel("material_spec", row.status)}</span>
      <${Delivery} row=${row} now=${now}/>
    </div>
    <div class="dates">
      <${When} label="On site" day=${row.required_on_site} now=${now}/>
      <${When} label="Order by" day=${row.order_by} now=${now}
               cls=${reasons.includes("order_overdue") ? "late" : ""}/>
      <${When} label="Submit by" day=${row.submit_by} now=${now}
               cls=${reasons.includes("submit_overdue") ? "late" : ""}/>
      ${row.expected_delivery_on && html`<${When} label="Expected" day=${row.expected_delivery_on}
          now=${now} cls=${reasons.includes("delivery_late") ? "late" : ""}/>`}
      ${row.supplier_name && html`<span class="supplier">${row.supplier_name}</span>`}
    </div>
    ${reasons.length > 0 && html`<ul class="risks" aria-label="At risk because">
      ${reasons.map((r) => html`<li class="risk" data-reason=${r}><strong>${(RISKS[r] || [humanize(r)])[0]}</strong>
        ${RISKS[r] ? ` — ${RISKS[r][1](row, date)}` : ""}</li>`)}
    </ul>`}
  </li>`;
}

export function Procurement({state}) {
  const rows = state.procurement;
  const risky = rows.filter((r) => r.at_risk).length;
  const shown = visibleSchedule(rows, state.riskOnly);
  return html`<section id="procurement-section" class="card" aria-labelledby="procurement-title">
    <div class="card-head"><h2 id="procurement-title">Procurement schedule</h2>
      <span class="muted" id="procurement-count">${plural(rows.length, "spec")}${risky
        ? html` · <span class="due overdue">${risky} at risk</span>` : ""}</span>
      <${ExportMenu} list="procurement" state=${state}/></div>
    <div class="filters" role="group" aria-label="Show">
      <button type="button" class="chip" id="procurement-all" aria-pressed=${!state.riskOnly}
              onClick=${() => setRiskOnly(false)}>All<span class="chip-count">${rows.length}</span></button>
      <button type="button" class="chip" id="procurement-risk" aria-pressed=${state.riskOnly}
              onClick=${() => setRiskOnly(true)}>At risk<span class="chip-count">${risky}</span></button>
    </div>
    <ul id="procurement" class="items">
      ${shown.map((r) => html`<${ScheduleRow} key=${r.id} row=${r} now=${state.now}/>`)}
    </ul>
    ${shown.length === 0 && html`<p class="empty">${state.riskOnly ? "Nothing is at risk."
      : "No material specs to procure yet."}</p>`}
  </section>`;
}

const KIND = {shop_drawing: "Shop drawing", material_spec: "Material spec"};

function Blocking({record}) {
  const status = statusLabel(record.type, record.status);
  const delivery = record.delivery_status ? ` · ${DELIVERY[record.delivery_status] || humanize(record.delivery_status)}` : "";
  return html`<li class="blocker" data-id=${record.id} data-type=${record.type}>
    <span class="kind">${KIND[record.type] || humanize(record.type)}</span>
    ${" "}<span>${record.code ? `${record.code} · ` : ""}${record.title}</span>
    ${" "}<span class="muted">(${status}${delivery})</span></li>`;
}

export function Readiness({state}) {
  const {items, summary} = state.readiness;
  const blocked = items.filter((i) => !i.ready);
  const percent = summary ? Math.round(summary.share_ready * 100) : 0;
  // Blocked items first (what to chase), then the ready ones.
  const ordered = [...blocked, ...items.filter((i) => i.ready)];
  return html`<section id="readiness-section" class="card" aria-labelledby="readiness-title">
    <div class="card-head"><h2 id="readiness-title">Ready for production</h2>
      <span class="muted" id="readiness-count">${summary
        ? `${summary.ready} of ${plural(summary.items, "scope item")} ready · ${percent}%` : ""}</span>
      <${ExportMenu} list="readiness" state=${state}/></div>
    ${summary && html`<progress id="readiness-share" class="share" max="100" value=${percent}
        aria-label=${`${percent}% of the scope is ready`}></progress>`}
    <ul id="readiness" class="items">
      ${ordered.map((i) => html`<li key=${i.id} class=${`item readiness-row ${i.readiness}`}
          data-id=${i.id} data-readiness=${i.readiness}>
        <div class="row-head">
          <span class="item-title">${i.code ? `${i.code} · ` : ""}${i.name}</span>
          <span class=${`badge r-${i.readiness}`}>${i.ready ? "Ready" : "Blocked"}</span>
        </div>
        ${i.blocking.length > 0 && html`<ul class="blockers" aria-label=${`What blocks ${i.name}`}>
          ${i.blocking.map((b) => html`<${Blocking} key=${b.id} record=${b}/>`)}</ul>`}
      </li>`)}
    </ul>
    ${items.length === 0 && html`<p class="empty">No scope items yet.</p>`}
  </section>`;
}
