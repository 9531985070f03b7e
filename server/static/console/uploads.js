// A file's bytes go where the API says (docs/api.md "Files: attachments"): one PUT to
// …/content (file:// storage), parts (over 32 MiB: PUTs of byte ranges, resumable), or a
// presigned POST form straight to the bucket (S3). XHR, not fetch: fetch reports no upload
// progress. Thumbnails are read with the bearer token and shown as data: URLs (the page's
// CSP allows images from itself and data: only, plus the bucket when files live in S3).
import {api, ApiError, refreshTokens} from "./api.js";
import {getState} from "./store.js";

const PARTS_AT_ONCE = 100;   // part targets the API hands out per answer

function bearer() {
  const session = getState().session;
  return session ? {Authorization: `Bearer ${session.access}`} : {};
}

/** One request with upload progress: resolves {status, text}; a network failure throws. */
function send(method, url, body, headers, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    for (const [name, value] of Object.entries(headers)) request.setRequestHeader(name, value);
    request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => resolve({status: request.status, text: request.responseText});
    request.onerror = () => reject(new ApiError(0, {
      detail: "The upload was interrupted; check the connection and try again."}));
    request.send(body);
  });
}

/** A PUT of ours (…/content): with the token, refreshed and sent again once on a 401. */
async function sendOurs(url, body, headers, onProgress) {
  let answer = await send("PUT", url, body, {...headers, ...bearer()}, onProgress);
  if (answer.status === 401 && await refreshTokens()) {
    answer = await send("PUT", url, body, {...headers, ...bearer()}, onProgress);
  }
  return answer;
}

function refused(answer, where) {
  let body = null;
  try {
    body = JSON.parse(answer.text);
  } catch {
    body = {detail: `${where} answered ${answer.status}`};
  }
  return new ApiError(answer.status, body);
}

async function putWhole(id, upload, file, progress) {
  const answer = await sendOurs(upload.url, file, upload.headers || {}, progress);
  if (answer.status >= 300) throw refused(answer, "The server");
}

async function postForm(upload, file, progress) {
  const form = new FormData();
  for (const [name, value] of Object.entries(upload.fields || {})) form.append(name, value);
  form.append("file", file);          // last: the bucket reads the policy's fields first
  const answer = await send("POST", upload.url, form, {}, progress);
  if (answer.status >= 300) throw refused(answer, "The file store");
}

async function putParts(id, upload, file, progress) {
  const state = await api(`/attachments/${id}/parts`);   // what a dropped upload already sent
  const stored = new Set(state.uploaded.map((p) => p.number));
  let done = state.uploaded.reduce((sum, p) => sum + p.size, 0);
  const targets = new Map(upload.parts.map((p) => [p.number, p]));
  for (let number = 1; number <= upload.part_count; number += 1) {
    if (stored.has(number)) continue;
    let part = targets.get(number);
    if (!part || Date.parse(part.expires_at) < Date.now() + 30_000) {
      const numbers = [];
      for (let n = number; n <= upload.part_count && numbers.length < PARTS_AT_ONCE; n += 1) {
        if (!stored.has(n)) numbers.push(n);
      }
      const fresh = await api(`/attachments/${id}/parts`, {method: "POST", body: {numbers}});
      for (const p of fresh.parts) targets.set(p.number, p);
      part = targets.get(number);
    }
    const chunk = file.slice(part.offset, part.offset + part.size);
    const ours = part.url.startsWith("/api/");
    const onProgress = (loaded) => progress(done + loaded);
    const answer = ours ? await sendOurs(part.url, chunk, part.headers || {}, onProgress)
      : await send("PUT", part.url, chunk, part.headers || {}, onProgress);
    if (answer.status >= 300) throw refused(answer, ours ? "The server" : "The file store");
    done += part.size;
    progress(done);
  }
}

/** Whether an upload in parts that failed can go on with this file (the parts stored so
 * far are kept: only the missing ones are sent). */
export function resumable(created, file) {
  return Boolean(created) && created.upload.method === "parts"
    && created.file_name === file.name && created.size === file.size;
}

/** Declare, send and complete one file of a record; the ready attachment. `progress` is
 * told (bytes sent, bytes in all) as the bytes go; `declared` is told the declaration (to
 * resume it: pass it back as `resume`). */
export async function uploadFile({projectId, entityType, entityId, file, progress, rid,
                                  resume = null, declared = () => {}}) {
  const created = resume || await api("/attachments", {method: "POST", rid, body: {
    project_id: projectId, entity_type: entityType, entity_id: entityId,
    file_name: file.name, content_type: file.type || "", size: file.size}});
  declared(created);
  const report = (loaded) => progress(Math.min(loaded, file.size), file.size);
  report(0);
  const upload = created.upload;
  if (upload.method === "PUT") await putWhole(created.id, upload, file, report);
  else if (upload.method === "POST") await postForm(upload, file, report);
  else await putParts(created.id, upload, file, report);
  report(file.size);
  return api(`/attachments/${created.id}/complete`, {method: "POST", rid});
}

/** The thumbnail of a ready attachment as a URL an <img> may load, or null (not rendered). */
export async function thumbnailUrl(attachmentId) {
  const path = `/api/v1/attachments/${attachmentId}/thumbnail`;
  const get = () => fetch(path, {headers: {...bearer(), Accept: "application/json, image/webp"}});
  let response = await get();
  if (response.status === 401 && await refreshTokens()) response = await get();
  if (!response.ok) return null;
  if ((response.headers.get("Content-Type") || "").includes("json")) {
    return (await response.json()).url;              // S3: a short-lived link to the bucket
  }
  const blob = await response.blob();
  return new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => resolve(null);
    reader.readAsDataURL(blob);
  });
}
