// Snags (punch items) of the open project: the list as REST reads it (pins on drawing
// revisions as x, y fractions of the sheet), the sheet chosen to show them on, the snag
// opened (from its pin or its row), and the change events that touch them (punch_item.*).
import {api, fetchAll} from "./api.js";
import {fileOf} from "./register.js";
import {getState, update, without} from "./store.js";

export const SNAG_EVENTS = new Set(["punch_item"]);

export const SNAG_STATUS = {
  draft: "Draft", initiated: "Initiated", work_required: "Work required",
  ready_for_review: "Ready for review", work_not_accepted: "Work not accepted",
  in_dispute: "In dispute", ready_to_close: "Ready to close", not_accepted: "Not accepted",
  closed: "Closed",
};

/** The project's snags by number. */
export async function loadSnags(projectId) {
  const snags = await fetchAll(`/punch-items?project_id=${projectId}`);
  if (getState().projectId !== projectId) return;
  update({snags: new Map(snags.map((s) => [s.id, s]))});
}

function put(snag) {
  update((s) => {
    const held = s.snags.get(snag.id);
    if (held && held.version > snag.version) return {};
    return {snags: new Map(s.snags).set(snag.id, snag), changed: snag.id};
  });
}

const reads = new Map();   // snag id -> the number of its latest read: an older answer is dropped

async function reread(snagId) {
  const projectId = getState().projectId;
  const n = (reads.get(snagId) || 0) + 1;
  reads.set(snagId, n);
  try {
    const snag = await api(`/punch-items/${snagId}`);
    if (getState().projectId === projectId && reads.get(snagId) === n) put(snag);
  } catch (error) {
    if (error.status === 404) update((s) => ({snags: without(s.snags, snagId)}));
  }
}

/** A change event of a snag: read it again (its allowed actions are the caller's). */
export function snagEvent(event) {
  if (event.action === "deleted") update((s) => ({snags: without(s.snags, event.record_id)}));
  else reread(event.record_id);
}

/** The drawing revisions that hold pins: revision id -> {drawingId, revisionId, count}. */
export function pinnedSheets(snags) {
  const sheets = new Map();
  for (const snag of snags.values()) {
    if (!snag.drawing_revision_id || snag.pin_x === null || snag.pin_y === null) continue;
    const held = sheets.get(snag.drawing_revision_id)
      || {drawingId: snag.drawing_id, revisionId: snag.drawing_revision_id, count: 0};
    held.count += 1;
    sheets.set(snag.drawing_revision_id, held);
  }
  return sheets;
}

/** The sheet shown (a drawing revision id); its file and thumbnail are read if not held. */
export function showSheet(revisionId) {
  update({snagSheet: revisionId});
  if (revisionId && !getState().files.has(revisionId)) fileOf({id: revisionId});
}

export function openSnag(snagId) {
  update((s) => ({openSnag: s.openSnag === snagId ? null : snagId}));
}

/** A pin's place on the sheet as CSS percentages of the sheet's box (the pin's centre). */
export function pinPlace(snag) {
  const clamp = (v) => Math.min(1, Math.max(0, Number(v) || 0));
  return {left: `${(clamp(snag.pin_x) * 100).toFixed(3)}%`, top: `${(clamp(snag.pin_y) * 100).toFixed(3)}%`};
}
