// Change events as sentences a person reads: "Ahmet moved *Install reception desk* to review".
// Pure: the caller passes how to name people and what the record was before the change.
import {humanize, resourceLabel, shortDate, statusLabel} from "./labels.js";

const TASK_MOVES = {
  pending: ["moved", "back to not started"], in_progress: ["started", ""],
  review: ["moved", "to review"], completed: ["completed", ""], cancelled: ["cancelled", ""],
};
const DRAWING_MOVES = {
  draft: ["opened a new revision of drawing", ""], submitted: ["submitted drawing", "for review"],
  in_review: ["started reviewing drawing", ""], approved: ["approved drawing", ""],
  approved_as_noted: ["approved drawing", "as noted"],
  revise_and_resubmit: ["asked for a revision of drawing", ""],
  rejected: ["rejected drawing", ""], void: ["voided drawing", ""],
};
const SPEC_MOVES = {
  pending: ["reopened material", ""], pending_approval: ["submitted material", "for approval"],
  approved: ["approved material", ""], revision_required: ["asked for a revision of material", ""],
  rejected: ["rejected material", ""], ordered: ["ordered material", ""],
  in_stock: ["received material", "into stock"], delivered: ["delivered material", "to site"],
  used: ["marked material", "as used"],
};
const RFI_MOVES = {
  open: ["sent", "for an answer"], answered: ["answered", ""], closed: ["closed", ""],
  void: ["voided", ""], draft: ["drafted", ""],
};
const SNAG_MOVES = {
  initiated: ["issued snag", ""], work_required: ["started work on snag", ""],
  ready_for_review: ["marked snag", "ready for review"], in_dispute: ["disputed snag", ""],
  ready_to_close: ["accepted the work on snag", ""], work_not_accepted: ["did not accept the work on snag", ""],
  not_accepted: ["returned snag", "to its manager"], closed: ["closed snag", ""],
};
const MOVES = {task: TASK_MOVES, shop_drawing: DRAWING_MOVES, material_spec: SPEC_MOVES,
               rfi: RFI_MOVES, punch_item: SNAG_MOVES};
const RISK_WORDS = {submit_overdue: "submit overdue", order_overdue: "order overdue",
                    delivery_late: "delivery late"};
const CREATED = {task: "added task", shop_drawing: "added drawing", material_spec: "added material",
                 drawing: "added drawing", drawing_revision: "issued", attachment: "uploaded",
                 scope_item: "added scope item", scope_group: "added scope group",
                 rfi: "raised", review: "started review", review_template: "added review template",
                 site_diary: "started the site diary", punch_item: "raised snag"};

const FIELD_WORDS = {assigned_to: "assignee", due_date: "due date", start_date: "start date",
                     estimated_hours: "estimate", actual_hours: "hours", unit_cost: "unit cost",
                     drawing_number: "number", scope_item_ids: "linked items"};
// Bookkeeping columns every write touches: never worth a word.
const QUIET = new Set(["version", "updated_at", "created_at", "completed_at", "submitted_at",
                       "approved_at", "search_vector", "total_cost", "progress_updated_at"]);

/** How a record is called: a task's name, a drawing's number and title, a spec's words. */
export function title(resource, record) {
  if (!record) return "";
  if (resource === "shop_drawing") {
    return [record.drawing_number, record.title].filter(Boolean).join(" ");
  }
  if (resource === "drawing") return [record.number, record.title].filter(Boolean).join(" ");
  if (resource === "drawing_revision") return record.revision ? `revision ${record.revision}` : "";
  if (resource === "attachment") return record.file_name || "";
  if (resource === "rfi") return [record.number, record.subject].filter(Boolean).join(" ");
  if (resource === "rfi_response" || resource === "review_task") return "";
  if (resource === "site_diary") return record.day ? `of ${shortDate(record.day)}` : "";
  if (resource === "punch_item") {
    return record.number ? `#${record.number}${record.title ? ` ${record.title}` : ""}` : record.title || "";
  }
  return record.name || record.title || record.description || record.code || "";
}

function fieldWords(fields) {
  const words = fields.filter((f) => !QUIET.has(f)).map((f) => FIELD_WORDS[f] || humanize(f).toLowerCase());
  return words.slice(0, 3).join(", ") + (words.length > 3 ? ` and ${words.length - 3} more` : "");
}

function updated(event, what, nameOf) {
  const fields = event.changed_fields || [];
  const data = event.data || {};
  const moves = MOVES[event.resource];
  if (moves && fields.includes("status") && moves[data.status]) {
    const [verb, tail] = moves[data.status];
    return [`${verb} `, {em: what}, tail ? ` ${tail}` : ""];
  }
  if (moves && fields.includes("status")) {
    return ["set ", {em: what}, ` to ${statusLabel(event.resource, data.status).toLowerCase()}`];
  }
  if (event.resource === "site_diary" && fields.includes("status") && data.status === "complete") {
    return ["completed and locked the site diary ", {em: what}];
  }
  if (event.resource === "material_spec" && fields.includes("risk_reasons")) {
    const reasons = (data.risk_reasons || []).map((r) => RISK_WORDS[r] || humanize(r).toLowerCase());
    return reasons.length ? ["flagged material ", {em: what}, ` at risk (${reasons.join(", ")})`]
                          : ["cleared the risk on material ", {em: what}];
  }
  if (event.resource === "scope_item" && fields.includes("production_ready")) {
    return ["marked scope item ", {em: what}, data.production_ready ? " ready for production"
                                                                   : " blocked for production"];
  }
  if (event.resource === "drawing_revision" && fields.includes("superseded_at") && data.superseded_at) {
    return ["superseded ", {em: what}];
  }
  if (event.resource === "drawing_revision" && fields.includes("published_at") && data.published_at) {
    return ["published ", {em: what}];
  }
  if (event.resource === "task" && fields.includes("assigned_to")) {
    return data.assigned_to ? ["assigned ", {em: what}, ` to ${nameOf(data.assigned_to)}`]
                            : ["unassigned ", {em: what}];
  }
  if (event.resource === "task" && fields.includes("due_date")) {
    return data.due_date ? ["moved the due date of ", {em: what}, ` to ${shortDate(data.due_date)}`]
                         : ["cleared the due date of ", {em: what}];
  }
  const words = fieldWords(fields);
  const kind = resourceLabel(event.resource);
  const named = what ? [`updated ${kind} `, {em: what}] : [`updated a ${kind}`];
  return words ? [...named, ` (${words})`] : named;
}

function member(event, nameOf, verb) {
  const userId = (event.data || event.before || {}).user_id;
  return userId ? [`${verb} ${nameOf(userId)}`, verb === "added" ? " to the team" : " from the team"]
                : [`changed the team`];
}

/** An RFI's response or a reviewer's task, named by what it belongs to (`parent`: the RFI or
 * the review as the page holds it); null when the generic sentence will do. */
function childOf(event, parent) {
  const data = event.data || {};
  if (event.resource === "rfi_response") {
    const rfi = title("rfi", parent) || "an RFI";
    if (event.action === "created") return ["responded to ", {em: rfi}];
    if (event.action === "updated" && (event.changed_fields || []).includes("official")) {
      return data.official ? ["made a response the official answer to ", {em: rfi}] : null;
    }
    return null;
  }
  if (event.resource !== "review_task") return null;
  const review = (parent && parent.name) || "a review";
  if (event.action === "created") return ["asked for an answer in review ", {em: review}];
  if (event.action === "updated" && data.state === "responded"
      && (event.changed_fields || []).includes("state")) {
    return ["answered review ", {em: review}, ` — ${humanize(data.outcome).toLowerCase()}`];
  }
  return null;
}

function reviewMoved(event) {
  const data = event.data || {};
  const fields = event.changed_fields || [];
  if (fields.includes("status") && data.status === "completed") {
    return ["completed review ", {em: data.name}, data.result ? ` — ${humanize(data.result).toLowerCase()}` : ""];
  }
  if (fields.includes("status") && data.status === "terminated") return ["terminated review ", {em: data.name}];
  if (fields.includes("current_step")) {
    return ["moved review ", {em: data.name}, ` to step ${data.current_step + 1}`];
  }
  return null;
}

/** The sentence as parts: strings, and {em} for the record's name. `before` is the record as
 * the page held it (a deleted record's name comes from there); `parent` what a response or
 * a review task belongs to. */
export function sentence(event, {nameOf, me = null, before = null, parent = null}) {
  const actor = !event.actor_id ? "The system" : event.actor_id === me ? "You" : nameOf(event.actor_id);
  const rest = childOf(event, parent)
    || (event.resource === "review" && event.action === "updated" ? reviewMoved(event) : null)
    || common(event, nameOf, before);
  return [`${actor} `, ...rest].filter((part) => part !== "");
}

function common(event, nameOf, before) {
  const what = title(event.resource, event.data) || title(event.resource, before);
  const kind = resourceLabel(event.resource);
  if (event.resource === "project_member") {
    return member({...event, before}, nameOf, event.action === "deleted" ? "removed" : "added");
  }
  if (event.resource === "comment" && event.action === "created") {
    return [`commented on a ${resourceLabel((event.data || {}).entity_type)}`];
  }
  if (event.action === "created") {
    return what ? [`${CREATED[event.resource] || `added ${kind}`} `, {em: what}] : [`added a ${kind}`];
  }
  if (event.action === "deleted") {
    return what ? [`deleted ${kind} `, {em: what}] : [`deleted a ${kind}`];
  }
  return updated(event, what, nameOf);
}

/** The sentence as plain text (titles, screen readers, tests). */
export const plain = (parts) => parts.map((p) => (typeof p === "string" ? p : p.em)).join("");
