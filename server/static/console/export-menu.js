// "Export" on each list (CSV or Excel, with the list's filters) and the project's weekly
// report: its paper and period, its progress while the server draws it, then the PDF.
import {useState} from "../vendor/preact-hooks.mjs";
import {exportList, FORMATS, listExport, PAPERS, weeklyReport} from "./exports.js";
import {html} from "./html.js";
import {plural} from "./labels.js";

function JobProgress({job, id, steps}) {
  if (!job) return null;
  // A list counts its rows as it writes them, out of the total it counted first (when the
  // server sent one); the report has two steps (read, drawn).
  const total = !steps && Number.isInteger(job.total) && job.total > 0 ? job.total : null;
  const done = Math.min(job.done || 0, total ?? Infinity);
  const words = job.phase === "saved" ? `Downloaded ${job.savedAs}`
    : job.phase === "failed" ? `Not made: ${job.error}`
    : job.phase === "download" ? "Downloading…"
    : job.status === "queued" ? "Waiting for a free worker…"
    : steps ? steps[Math.min(job.done || 0, steps.length - 1)]
    : total ? `Writing the file: ${done} of ${plural(total, "row")}…`
    : `Writing the file: ${plural(done, "row")}…`;
  const max = steps ? steps.length + 1 : total || 1;
  const value = job.phase === "saved" ? max
    : steps ? Math.min(job.done || 0, steps.length) + (job.phase === "download" ? 1 : 0)
    : total ? done : 0;
  const state = job.phase || job.status;
  return html`<div id=${id} class=${`upload job ${state}`} role="status" data-status=${state}>
    ${steps || total ? html`<progress max=${max} value=${value} aria-label="Progress"></progress>`
      : job.phase !== "saved" && html`<progress aria-label="Progress"></progress>`}
    <span>${words}</span>
  </div>`;
}

/** The Export button of a list and its menu (CSV, Excel). */
export function ExportMenu({list, state}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState("");
  const [jobId, setJobId] = useState(null);
  const {note} = listExport(list, state);
  const go = async (format) => {
    setOpen(false);
    setBusy(format);
    setJobId(null);
    await exportList(list, format, setJobId);
    setBusy("");
  };
  const job = jobId ? state.jobs.get(jobId) : null;
  return html`<div class="exporter" onKeyDown=${(e) => e.key === "Escape" && setOpen(false)}>
    <button type="button" id=${`${list}-export`} class="quiet export-button" aria-haspopup="true"
            aria-expanded=${open} disabled=${Boolean(busy)} onClick=${() => setOpen(!open)}>
      ${busy ? "Exporting…" : "Export"}</button>
    ${open && html`<div class="export-menu" id=${`${list}-export-menu`} role="group"
        aria-label="Export as">
      ${Object.entries(FORMATS).map(([format, label]) => html`<button type="button"
          class=${`export-${format}`} onClick=${() => go(format)}>${label}</button>`)}
      ${note && html`<p class="note">${note}</p>`}
    </div>`}
    ${busy && job && html`<${JobProgress} job=${job} id=${`${list}-export-status`}/>`}
  </div>`;
}

const REPORT_STEPS = ["Reading the project…", "Drawing the PDF…"];   // done 0, 1 (2: drawn)

/** The weekly report of the open project (a PDF made in the background). */
export function WeeklyReport({state}) {
  const [paper, setPaper] = useState("a4");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [busy, setBusy] = useState(false);
  const job = state.reportJob ? state.jobs.get(state.reportJob) : null;
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    await weeklyReport({paper, from, to});
    setBusy(false);
  };
  return html`<section id="report-section" class="card" aria-labelledby="report-title">
    <div class="card-head"><h2 id="report-title">Weekly report</h2>
      <span class="muted">PDF · the last 7 days unless you choose</span></div>
    <form id="report-form" class="report-form" onSubmit=${submit}>
      <div><label for="report-paper">Paper</label>
        <select id="report-paper" value=${paper} onChange=${(e) => setPaper(e.currentTarget.value)}>
          ${Object.entries(PAPERS).map(([key, label]) => html`<option value=${key} selected=${key === paper}>${label}</option>`)}
        </select></div>
      <div><label for="report-from">From</label>
        <input id="report-from" type="date" value=${from} onInput=${(e) => setFrom(e.currentTarget.value)}/></div>
      <div><label for="report-to">To</label>
        <input id="report-to" type="date" value=${to} onInput=${(e) => setTo(e.currentTarget.value)}/></div>
      <button type="submit" id="report-run" class="primary" disabled=${busy}>
        ${busy ? "Making the report…" : "Weekly report"}</button>
    </form>
    <${JobProgress} job=${job} id="report-status" steps=${REPORT_STEPS}/>
  </section>`;
}
