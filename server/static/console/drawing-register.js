// The drawing register: the current set with thumbnails, each drawing's revisions (current,
// superseded, unpublished), a new revision uploaded from the browser with its progress, and
// Publish for project managers.
import {useState} from "../vendor/preact-hooks.mjs";
import {nameOf} from "./data.js";
import {ExportMenu} from "./export-menu.js";
import {html} from "./html.js";
import {bytes, shortDate} from "./labels.js";
import {issueRevision, openDrawing, publish} from "./register.js";

const ACCEPT = ".pdf,.png,.jpg,.jpeg,.webp,.heic,.dwg,.dxf,.ifc";

/** The code after the latest one: P01 -> P02, C03 -> C04, P01.02 -> P01.03. */
export function nextCode(revisions) {
  const last = revisions.length ? revisions[revisions.length - 1].revision : null;
  if (!last) return "P01";
  const match = /^([PC])(\d{2})(?:\.(\d{2}))?$/.exec(last);
  if (!match) return "";
  const pad = (n) => String(n).padStart(2, "0");
  return match[3] ? `${match[1]}${match[2]}.${pad(Number(match[3]) + 1)}`
    : `${match[1]}${pad(Number(match[2]) + 1)}`;
}

function Thumb({state, revision, size = ""}) {
  const file = revision ? state.files.get(revision.id) : null;
  const url = file ? state.thumbs.get(file.id) : null;
  const label = revision ? `${revision.revision}${file ? ` · ${file.file_name}` : ""}` : "";
  return url
    ? html`<img class=${`thumb ${size}`} src=${url} alt=${`Sheet ${label}`} data-file=${file.id}/>`
    : html`<span class=${`thumb none ${size}`} aria-hidden="true">${file ? "…" : "No file"}</span>`;
}

function mark(revision) {
  if (revision.is_superseded) return ["superseded", "Superseded"];
  if (revision.is_current) return ["current", "Current"];
  if (!revision.published_at) return ["unpublished", "Unpublished"];
  return ["published", "Published"];
}

function Revision({state, revision, canPublish, now}) {
  const [kind, label] = mark(revision);
  const [busy, setBusy] = useState(false);
  const publishable = canPublish && !revision.published_at && revision.revision_kind !== "wip";
  const go = async () => {
    setBusy(true);
    await publish(revision);
    setBusy(false);
  };
  const when = revision.superseded_at || revision.published_at || revision.issued_at;
  return html`<li class=${`revision ${kind}`} data-id=${revision.id} data-mark=${kind}>
    <${Thumb} state=${state} revision=${revision} size="small"/>
    <span class="rev-body">
      <span class="rev-code">${revision.revision}</span>
      <span class="badge">${revision.status}</span>
      <span class=${`mark ${kind}`}>${label}</span>
      <span class="rev-meta">${revision.file_name || ""}${revision.issued_by ? ` · ${nameOf(revision.issued_by)}` : ""}
        ${when && html` · <time datetime=${when}>${shortDate(when, now)}</time>`}</span>
    </span>
    ${publishable && html`<button type="button" class="primary publish" onClick=${go} disabled=${busy}>
      ${busy ? "Publishing…" : `Publish ${revision.revision}`}</button>`}
  </li>`;
}

function Progress({upload}) {
  if (!upload) return null;
  const percent = upload.total ? Math.floor((100 * upload.loaded) / upload.total) : 0;
  const words = {revision: "Issuing the revision…", upload: `Uploading ${upload.name}: ${percent}%`,
                 done: `Uploaded ${upload.name}`, failed: `Not uploaded: ${upload.error}`}[upload.phase];
  return html`<div id="upload-status" class=${`upload ${upload.phase}`} role="status">
    <progress id="upload-progress" max=${upload.total || 1} value=${upload.loaded || 0}
              aria-label="Upload progress"></progress>
    <span>${words}</span>
    <span class="muted"> (${bytes(upload.loaded || 0)} of ${bytes(upload.total || 0)})</span>
  </div>`;
}

function IssueForm({drawing, upload}) {
  const revisions = drawing.revisions || [];
  // A failed upload is retried into the revision it created (its code stays in the form).
  const failed = upload && upload.phase === "failed" && upload.revision;
  const [code, setCode] = useState(failed ? upload.revision.revision : nextCode(revisions));
  const [file, setFile] = useState(null);
  const busy = upload && (upload.phase === "revision" || upload.phase === "upload");
  const submit = async (event) => {
    event.preventDefault();
    await issueRevision(drawing, code.trim().toUpperCase(), file);  // done: a fresh form
  };
  return html`<form id="issue-form" class="inline-form" onSubmit=${submit}>
    <label for="issue-revision">New revision of ${drawing.number}</label>
    <div class="form-row">
      <input id="issue-revision" required maxlength="6" placeholder="P02" value=${code}
             onInput=${(e) => setCode(e.currentTarget.value)}/>
    </div>
    <label for="issue-file">Its file (PDF, image or CAD)</label>
    <input id="issue-file" type="file" accept=${ACCEPT} required
           onChange=${(e) => setFile(e.currentTarget.files[0] || null)}/>
    <button type="submit" class="primary" disabled=${busy || !file || !code.trim()}>
      ${busy ? "Uploading…" : "Upload revision"}
    </button>
    <${Progress} upload=${upload}/>
  </form>`;
}

/** A fresh form (the next code, no file) once an upload is done; kept through a failure. */
function formKey(drawing, upload) {
  return `${drawing.id}:${(upload && upload.done) || 0}`;
}

function Sheet({state, drawing, open, canIssue, canPublish}) {
  const current = drawing.current_revision;
  const revisions = drawing.revisions || [];
  return html`<li class=${`item sheet${open ? " selected" : ""}`} data-id=${drawing.id}>
    <button type="button" class="item-head sheet-head" aria-expanded=${open}
            onClick=${() => openDrawing(drawing.id)}>
      <${Thumb} state=${state} revision=${current}/>
      <span class="item-title">${drawing.number} · ${drawing.title}</span>
      <span class="current-rev">${current
        ? html`<span class="badge s-approved">${current.revision} · ${current.status}</span>`
        : html`<span class="badge">Not published</span>`}</span>
      <span class="item-meta">${[drawing.discipline_name, drawing.drawing_set].filter(Boolean).join(" · ")}</span>
    </button>
    ${open && !drawing.revisions && html`<p class="note sheet-body">Reading the revisions…</p>`}
    ${open && drawing.revisions && html`<div class="sheet-body">
      <ol class="revisions" id=${`revisions-${drawing.id}`} aria-label=${`Revisions of ${drawing.number}`}>
        ${revisions.slice().reverse().map((r) => html`<${Revision} key=${r.id} state=${state}
            revision=${r} canPublish=${canPublish} now=${state.now}/>`)}
      </ol>
      ${revisions.length === 0 && html`<p class="note">No revision issued yet.</p>`}
      ${canIssue && html`<${IssueForm} key=${formKey(drawing, state.uploads.get(drawing.id))}
                                       drawing=${drawing} upload=${state.uploads.get(drawing.id)}/>`}
    </div>`}
  </li>`;
}

export function Register({state}) {
  const role = state.session.user.role;
  const canIssue = ["admin", "project_manager", "designer"].includes(role);
  const canPublish = ["admin", "project_manager"].includes(role);
  const drawings = [...state.register.values()].sort((a, b) => a.number.localeCompare(b.number));
  const current = drawings.filter((d) => d.current_revision).length;
  return html`<section id="register-section" class="card" aria-labelledby="register-title">
    <div class="card-head"><h2 id="register-title">Drawing register</h2>
      <span class="muted" id="register-count">${current} of ${drawings.length} current</span>
      <${ExportMenu} list="register" state=${state}/></div>
    <ul id="register" class="items">
      ${drawings.map((d) => html`<${Sheet} key=${d.id} state=${state} drawing=${d}
          open=${state.openDrawing === d.id} canIssue=${canIssue} canPublish=${canPublish}/>`)}
    </ul>
    ${drawings.length === 0 && html`<p class="empty">No drawings in the register yet.</p>`}
  </section>`;
}
