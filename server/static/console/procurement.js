// The procurement schedule of the open project (material specs with their on-site, order-by
// and submit-by dates, delivery status and at-risk flags) and its scope readiness (each item
// ready or blocked, with what blocks it, and the project's share ready), read over REST and
// read again when an event touches them: a spec's flag flip is `material_spec.updated`, a
// readiness flip `scope_item.updated` (the database keeps it from the links).
import {api, fetchAll} from "./api.js";
import {getState, update} from "./store.js";

export const SCHEDULE_EVENTS = new Set(["material_spec"]);
export const READINESS_EVENTS = new Set(["scope_item", "item_link", "shop_drawing", "material_spec"]);
const SETTLE = 300;      // ms: a burst of events is one read

/** The schedule in the API's order (by on-site date, none last). */
export async function loadProcurement(projectId) {
  const rows = await fetchAll(`/projects/${projectId}/procurement`);
  if (getState().projectId !== projectId) return;
  update({procurement: rows});
}

/** Every item with its readiness, and the project's summary (items, ready, share_ready). */
export async function loadReadiness(projectId) {
  const items = [];
  let cursor = null;
  let summary = null;
  do {
    const after = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const page = await api(`/projects/${projectId}/readiness?limit=200${after}`);
    items.push(...page.data);
    summary = page.summary;
    cursor = page.next_cursor;
  } while (cursor && items.length < 2000);
  if (getState().projectId !== projectId) return;
  update({readiness: {items, summary}});
}

const timers = new Map();

function later(key, read) {
  clearTimeout(timers.get(key));
  const projectId = getState().projectId;
  timers.set(key, setTimeout(() => {
    if (getState().projectId === projectId) read(projectId).catch(() => {});
  }, SETTLE));
}

/** A change event: the schedule and readiness again (their dates and flags are computed by
 * the API; an event carries one row). */
export function procurementEvent(event) {
  if (SCHEDULE_EVENTS.has(event.resource)) later("procurement", loadProcurement);
  if (READINESS_EVENTS.has(event.resource)) later("readiness", loadReadiness);
}

/** Each flag's label and why it is raised (`d` writes a date). */
export const RISKS = {
  submit_overdue: ["Submit overdue", (row, d) => `submit-by ${d(row.submit_by)} passed without an approval`],
  order_overdue: ["Order overdue", (row, d) => `order-by ${d(row.order_by)} passed without an order`],
  delivery_late: ["Delivery late",
                  (row, d) => `expected ${d(row.expected_delivery_on)}, needed on site ${d(row.required_on_site)}`],
};

export const DELIVERY = {ordered: "Ordered", in_fabrication: "In fabrication", shipped: "Shipped",
                         delivered: "Delivered", received: "Received"};

/** The rows the page shows: all, or the at-risk ones. */
export function visibleSchedule(rows, riskOnly) {
  return riskOnly ? rows.filter((r) => r.at_risk) : rows;
}

export const setRiskOnly = (riskOnly) => update({riskOnly});
