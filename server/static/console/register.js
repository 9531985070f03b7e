// The drawing register of the open project (design and issued drawings, ISO 19650
// revisions): what the page holds of it, a new revision with its file, publish, and the
// change events that move it (drawing.*, drawing_revision.*, attachment.*).
import {api, ApiError, fetchAll, requestId} from "./api.js";
import {newRequest} from "./data.js";
import {getState, say, toast, update} from "./store.js";
import {resumable, thumbnailUrl, uploadFile} from "./uploads.js";

export const REGISTER_EVENTS = new Set(["drawing", "drawing_revision", "attachment"]);
const THUMB_TRIES = 8;          // a thumbnail is rendered in the background: look again

/** The register over REST: every drawing with its current revision (revisions on demand). */
export async function loadRegister(projectId) {
  const drawings = await fetchAll(`/projects/${projectId}/drawings`);
  if (getState().projectId !== projectId) return;
  const held = getState().register;
  // Revisions already read stay shown until the open drawing is read again below.
  update({register: new Map(drawings.map((d) => [d.id, {revisions: (held.get(d.id) || {}).revisions, ...d}]))});
  for (const drawing of drawings) {
    if (drawing.current_revision) fileOf(drawing.current_revision);
  }
  const open = getState().openDrawing;
  if (open) rereadDrawing(open);
}

function put(drawing) {
  update((s) => ({register: new Map(s.register).set(drawing.id, drawing)}));
}

/** A drawing again, with its revisions (superseded ones marked), and the files they show. */
export async function rereadDrawing(drawingId) {
  const projectId = getState().projectId;
  try {
    const drawing = await api(`/drawings/${drawingId}`);
    if (getState().projectId !== projectId) return;
    put(drawing);
    for (const revision of drawing.revisions) fileOf(revision);
  } catch (error) {
    if (error.status === 404) {
      update((s) => {
        const register = new Map(s.register);
        register.delete(drawingId);
        return {register};
      });
    }
  }
}

export function openDrawing(drawingId) {
  const open = getState().openDrawing === drawingId ? null : drawingId;
  update({openDrawing: open});
  if (open && !(getState().register.get(open) || {}).revisions) rereadDrawing(open);
}

/** The file of a revision: the one it names, else the newest ready one hung off it. */
export async function fileOf(revision, force = false) {
  if (!force && getState().files.has(revision.id)) return;
  update((s) => ({files: new Map(s.files).set(revision.id, s.files.get(revision.id) || null)}));
  let file = null;
  try {
    if (revision.attachment_id) {
      file = await api(`/attachments/${revision.attachment_id}`);
    } else {
      const page = await api(`/attachments?entity_type=drawing_revision&entity_id=${revision.id}`
                             + "&status=ready&limit=1");
      file = page.data[0] || null;
    }
  } catch {
    file = null;     // not readable (yet): the row shows no thumbnail
  }
  update((s) => ({files: new Map(s.files).set(revision.id, file)}));
  if (file) thumbnailOf(file);
}

async function thumbnailOf(file, tries = 0) {
  if (getState().thumbs.has(file.id) || file.thumbnail === "none" || file.thumbnail === "failed") {
    return;
  }
  const url = await thumbnailUrl(file.id).catch(() => null);
  if (url) {
    update((s) => ({thumbs: new Map(s.thumbs).set(file.id, url)}));
  } else if (tries < THUMB_TRIES) {
    setTimeout(() => thumbnailOf(file, tries + 1), 500 * 2 ** Math.min(tries, 4));
  }
}

/** A change event of the register: reread what it touched (the API computes the current
 * revision and the marks; an event carries one row). */
export function registerEvent(event) {
  const data = event.data || {};
  if (event.resource === "drawing") {
    rereadDrawing(event.record_id);
  } else if (event.resource === "drawing_revision") {
    if (data.drawing_id) rereadDrawing(data.drawing_id);
  } else if (event.resource === "attachment" && data.entity_type === "drawing_revision") {
    for (const drawing of getState().register.values()) {
      const revisions = drawing.revisions || (drawing.current_revision ? [drawing.current_revision] : []);
      const revision = revisions.find((r) => r.id === data.entity_id);
      if (revision) fileOf(revision, true);
    }
  }
}

function uploading(drawingId, patch) {
  update((s) => {
    const uploads = new Map(s.uploads);
    if (patch === null) uploads.delete(drawingId);
    else uploads.set(drawingId, {...(uploads.get(drawingId) || {}), ...patch});
    return {uploads};
  });
}

/** A new revision of a drawing with its file: the revision, then the file's upload with
 * progress, then the register again. Unpublished until a project manager publishes it. */
export async function issueRevision(drawing, code, file) {
  say(null, "");
  const rid = newRequest(requestId());
  // After a failed upload the revision exists already: the file goes to it on a retry.
  const last = getState().uploads.get(drawing.id);
  const retry = last && last.phase === "failed" && last.revision && last.revision.revision === code
    ? last.revision : null;
  uploading(drawing.id, {name: file.name, loaded: 0, total: file.size, phase: "revision", error: "",
                        attachment: null});
  try {
    const revision = retry || await api(`/drawings/${drawing.id}/revisions`, {
      method: "POST", rid, body: {revision: code, file_name: file.name}});
    uploading(drawing.id, {phase: "upload", revision});
    const progress = (loaded, total) => uploading(drawing.id, {loaded, total});
    const resume = retry && resumable(last.attachment, file) ? last.attachment : null;
    const done = await uploadFile({
      projectId: drawing.project_id, entityType: "drawing_revision", entityId: revision.id,
      file, progress, rid, resume, declared: (attachment) => uploading(drawing.id, {attachment})});
    update((s) => ({files: new Map(s.files).set(revision.id, done)}));
    thumbnailOf(done);
    await rereadDrawing(drawing.id);
    // After the reread (the next code follows it); `done` counts this drawing's uploads.
    uploading(drawing.id, {phase: "done", done: ((last && last.done) || 0) + 1});
    toast(`${drawing.number} ${revision.revision} uploaded — unpublished until a project manager publishes it`);
    return true;
  } catch (error) {
    const detail = error instanceof ApiError ? error.message : String(error);
    uploading(drawing.id, {phase: "failed", error: detail});
    await rereadDrawing(drawing.id);
    return false;
  }
}

export async function publish(revision) {
  say(null, "");
  const rid = newRequest(requestId());
  try {
    await api(`/drawing-revisions/${revision.id}/publish`, {method: "POST", rid});
    toast(`Revision ${revision.revision} published`);
  } catch (error) {
    say("error", error.message);
  }
  await rereadDrawing(revision.drawing_id);
}
