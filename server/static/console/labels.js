// Words a site team uses for the API's codes (pure functions, no state).

export const TASK_STATUSES = ["pending", "in_progress", "review", "completed", "cancelled"];
export const CLOSED_TASK = new Set(["completed", "cancelled"]);

const STATUS = {
  task: {pending: "Not started", in_progress: "In progress", review: "In review",
         completed: "Completed", cancelled: "Cancelled"},
  shop_drawing: {draft: "Draft", submitted: "Submitted", in_review: "In review",
                 approved: "Approved", approved_as_noted: "Approved as noted",
                 revise_and_resubmit: "Revise and resubmit", rejected: "Rejected", void: "Void"},
  material_spec: {pending: "Not submitted", pending_approval: "Awaiting approval",
                  approved: "Approved", revision_required: "Revision required",
                  rejected: "Rejected", ordered: "Ordered", in_stock: "In stock",
                  delivered: "Delivered", used: "Used"},
  project: {draft: "Draft", on_tender: "On tender", active: "Active", on_hold: "On hold",
            completed: "Completed", cancelled: "Cancelled"},
};

const ROLES = {admin: "Admin", project_manager: "Project manager", designer: "Designer",
               coordinator: "Coordinator", craftsman: "Craftsman", client: "Client"};

const ACTIONS = {submit: "Submit", start_review: "Start review", approve: "Approve",
                 approve_as_noted: "Approve as noted", request_revision: "Request revision",
                 reject: "Reject", new_revision: "Open a new revision", void: "Void",
                 order: "Mark as ordered", receive: "Mark as received in stock",
                 deliver: "Mark as delivered to site", use: "Mark as used"};

/** Actions whose API call is refused without a comment. */
export const NEEDS_COMMENT = new Set(["reject", "request_revision", "void"]);

const RESOURCES = {task: "task", shop_drawing: "shop drawing", material_spec: "material spec",
                   scope_item: "scope item", scope_group: "scope group", comment: "comment",
                   project: "project", project_member: "team member",
                   shop_drawing_revision: "shop drawing revision", drawing: "drawing",
                   drawing_revision: "drawing revision", attachment: "file", rfi: "RFI",
                   rfi_response: "RFI response", review: "review", review_task: "review task",
                   review_template: "review template", site_diary: "site diary",
                   punch_item: "snag", item_link: "link"};

/** `in_review` -> "In review": a known code's label, else the code made readable. */
export function humanize(code) {
  if (code === null || code === undefined || code === "") return "";
  const text = String(code).replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export const statusLabel = (resource, status) => (STATUS[resource] || {})[status] || humanize(status);
export const roleLabel = (role) => ROLES[role] || humanize(role);
export const actionLabel = (action) => ACTIONS[action] || humanize(action);
export const resourceLabel = (resource) => RESOURCES[resource] || humanize(resource).toLowerCase();

export function fullName(person) {
  if (!person) return "";
  return [person.first_name, person.last_name].filter(Boolean).join(" ");
}

/** Today as YYYY-MM-DD in the viewer's time zone (due dates are calendar dates). */
export function today(now = Date.now()) {
  const d = new Date(now);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

export function isOverdue(task, now = Date.now()) {
  return Boolean(task.due_date) && !CLOSED_TASK.has(task.status) && task.due_date < today(now);
}

/** "14 Mar" (this year) or "14 Mar 2027" for a YYYY-MM-DD date. */
export function shortDate(iso, now = Date.now()) {
  if (!iso) return "";
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  const date = new Date(y, m - 1, d);
  const sameYear = y === new Date(now).getFullYear();
  return date.toLocaleDateString(undefined, sameYear ? {day: "numeric", month: "short"}
                                                     : {day: "numeric", month: "short", year: "numeric"});
}

/** "just now", "4 min ago", "3 h ago", "yesterday", else the date. */
export function ago(at, now = Date.now()) {
  const seconds = Math.max(0, (now - Date.parse(at)) / 1000);
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 45) return "just now";
  if (seconds < 3600) return `${Math.max(1, Math.round(seconds / 60))} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  if (seconds < 2 * 86400) return "yesterday";
  return shortDate(new Date(Date.parse(at)).toISOString(), now);
}

/** A decimal string from the API ("12500.00") as a grouped number, or "" when absent. */
export function amount(value, digits = 0) {
  if (value === null || value === undefined || value === "") return "";
  const number = Number(value);
  if (!Number.isFinite(number)) return "";
  return number.toLocaleString(undefined, {maximumFractionDigits: digits});
}

export function plural(count, word) {
  return `${count} ${word}${count === 1 ? "" : "s"}`;
}

/** A file's size in words: "812 B", "3.1 MB". */
export function bytes(count) {
  if (!(count >= 1024)) return `${count || 0} B`;
  const units = ["KB", "MB", "GB"];
  let value = count / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}
