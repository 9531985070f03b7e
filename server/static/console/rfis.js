// The RFIs of the open project: the log as REST reads it, a new RFI, responses, the official
// answer and the RFI's moves, and the change events that touch them (rfi.*, rfi_response.*).
import {api, fetchAll, requestId} from "./api.js";
import {newRequest} from "./data.js";
import {today} from "./labels.js";
import {getState, say, toast, update, without} from "./store.js";

export const RFI_EVENTS = new Set(["rfi", "rfi_response"]);
// Who may do what (the API decides; the page offers only what it would allow).
export const RAISE_RFI = new Set(["admin", "project_manager", "designer", "coordinator"]);
export const RFI_MANAGERS = new Set(["admin", "project_manager"]);
// action -> the statuses it leaves (rules/rfis.py ACTIONS).
const MOVES = {open: ["draft"], close: ["answered"], reopen: ["answered"],
               void: ["draft", "open", "answered"]};

/** The project's RFIs by number, with their responses. */
export async function loadRfis(projectId) {
  const rfis = await fetchAll(`/rfis?project_id=${projectId}`);
  if (getState().projectId !== projectId) return;
  update({rfis: new Map(rfis.map((r) => [r.id, r]))});
}

function put(rfi) {
  // A response changes the RFI's list of responses, not its version: take the answer whole
  // unless a newer version is held.
  update((s) => {
    const held = s.rfis.get(rfi.id);
    if (held && held.version > rfi.version) return {};
    return {rfis: new Map(s.rfis).set(rfi.id, rfi), changed: rfi.id};
  });
}

const reads = new Map();   // RFI id -> the number of its latest read: an older answer is dropped

export async function rereadRfi(rfiId) {
  const projectId = getState().projectId;
  const n = (reads.get(rfiId) || 0) + 1;
  reads.set(rfiId, n);
  try {
    const rfi = await api(`/rfis/${rfiId}`);
    if (getState().projectId === projectId && reads.get(rfiId) === n) put(rfi);
  } catch (error) {
    if (error.status === 404) update((s) => ({rfis: without(s.rfis, rfiId)}));
  }
}

/** A change event of an RFI or of one of its responses: read the RFI again (an event
 * carries one row; the page shows the RFI with all its responses). */
export function rfiEvent(event) {
  const data = event.data || {};
  if (event.resource === "rfi") {
    if (event.action === "deleted") update((s) => ({rfis: without(s.rfis, event.record_id)}));
    else rereadRfi(event.record_id);
  } else if (event.resource === "rfi_response" && data.rfi_id) {
    rereadRfi(data.rfi_id);
  }
}

export function openRfi(rfiId) {
  update((s) => ({openRfi: s.openRfi === rfiId ? null : rfiId}));
}

/** The RFI's manager: its creator, or a project manager or admin (as the API has it). */
export const isRfiManager = (rfi, user) => rfi.created_by === user.id || RFI_MANAGERS.has(user.role);

/** The actions the signed-in user may take on the RFI now. */
export function rfiActions(rfi, user) {
  if (!isRfiManager(rfi, user)) return [];
  return Object.keys(MOVES).filter((action) => MOVES[action].includes(rfi.status)
    && (action !== "close" || rfi.official_response_id));
}

export const isLate = (rfi, now = Date.now()) =>
  rfi.status === "open" && Boolean(rfi.due_on) && rfi.due_on < today(now);

/** Whose move an RFI is (as the API's ball_in_court filter has it): the distribution list
 * answers an open RFI; its creator sends a draft and closes an answered one. */
export function rfiCourt(rfi) {
  if (rfi.status === "open") return {party: "distribution", users: rfi.distribution || []};
  if (rfi.status === "draft" || rfi.status === "answered") {
    return {party: "creator", users: rfi.created_by ? [rfi.created_by] : []};
  }
  return {party: null, users: []};
}

async function act(call, done) {
  say(null, "");
  const rid = newRequest(requestId());
  try {
    const rfi = await call(rid);
    reads.set(rfi.id, (reads.get(rfi.id) || 0) + 1);   // a read begun before it is older
    put(rfi);
    if (done) toast(done(rfi));
    return rfi;
  } catch (error) {
    say("error", error.message);
    return null;
  }
}

/** A new RFI (a draft), sent at once when `send` is set. */
export async function raiseRfi(fields, send) {
  const projectId = getState().projectId;
  const rfi = await act((rid) => api("/rfis", {method: "POST", rid,
                                               body: {project_id: projectId, ...fields}}));
  if (!rfi) return null;
  update({openRfi: rfi.id});
  if (send) return moveRfi(rfi, "open");
  toast(`${rfi.number} saved as a draft`);
  return rfi;
}

export function moveRfi(rfi, action, comment = null) {
  const words = {open: "sent for an answer", close: "closed", reopen: "reopened", void: "voided"};
  return act((rid) => api(`/rfis/${rfi.id}/transitions`, {method: "POST", rid,
                                                          body: {action, comment}}),
             (saved) => `${saved.number} ${words[action]}`);
}

export function respondRfi(rfi, body) {
  return act((rid) => api(`/rfis/${rfi.id}/responses`, {method: "POST", rid, body: {body}}),
             (saved) => `Response sent to ${saved.number}`);
}

export function makeOfficial(rfi, response) {
  return act((rid) => api(`/rfis/${rfi.id}/responses/${response.id}/official`,
                          {method: "POST", rid}),
             (saved) => `${saved.number} answered`);
}
