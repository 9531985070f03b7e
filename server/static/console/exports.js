// Files for the user: a list's CSV or Excel with the filters the page shows, and the weekly
// report as a background job (POST /exports), followed by its `export.progress` events with
// its GET as the truth (polled too, in case an event is missed), then downloaded. The API
// wants the bearer token, so the page fetches each file and hands it over as a download
// (a Blob behind an object URL and an <a download>); a file in S3 comes from its link.
import {api, ApiError, fetchFile} from "./api.js";
import {plural} from "./labels.js";
import {getState, say, toast, update} from "./store.js";

export const FORMATS = {csv: "CSV", xlsx: "Excel"};
export const PAPERS = {a4: "A4", letter: "Letter"};
const POLL = [1000, 2000, 3000, 5000];      // waits between two GETs of a job (the last repeats)
const FINISHED = new Set(["done", "failed", "expired"]);

/** The API call that gives a list as the page shows it: its project, and the filter chosen
 * (a filter the API does not have is said in `note`: the file then holds more). */
export function listExport(list, state) {
  const p = state.projectId;
  switch (list) {
    case "tasks": {
      const mine = state.filter === "mine" ? `&assigned_to=${state.session.user.id}` : "";
      const note = state.filter === "overdue"
        ? "The file holds every task: overdue is the page's own filter, not the API's." : "";
      return {path: `/tasks?project_id=${p}&sort=due_date${mine}`, note,
              what: state.filter === "mine" ? "my tasks" : "tasks"};
    }
    case "drawings": return {path: `/shop-drawings?project_id=${p}`, what: "shop drawings"};
    case "specs": return {path: `/material-specs?project_id=${p}`, what: "material specs"};
    case "register": return {path: `/projects/${p}/drawings`, what: "the drawing register"};
    case "rfis": return {path: `/rfis?project_id=${p}`, what: "RFIs"};
    case "reviews": return {path: `/reviews?project_id=${p}`, what: "reviews"};
    case "procurement": return state.riskOnly
      ? {path: `/projects/${p}/procurement?at_risk=true`, what: "the at-risk procurement"}
      : {path: `/projects/${p}/procurement`, what: "the procurement schedule"};
    case "readiness": return {path: `/projects/${p}/readiness`, what: "scope readiness"};
    case "snags": return {path: `/punch-items?project_id=${p}`, what: "snags"};
    case "diaries": return {path: `/site-diaries?project_id=${p}`, what: "the site diaries"};
    default: throw new Error(`No export for ${list}`);
  }
}

/** What to tell the user when a file could not be had (never a broken page). */
export function problemText(error) {
  if (error.status === 429) {
    const wait = error.retryAfter ? ` Try again in ${error.retryAfter} s.` : " Try again shortly.";
    return `${error.message.replace(/\.?$/, ".")}${wait}`;
  }
  return error.message;
}

/** The file name the server gave (Content-Disposition), kept to safe characters. */
export function fileName(disposition, fallback) {
  const value = disposition || "";
  const star = /filename\*\s*=\s*UTF-8''([^;]+)/i.exec(value);
  let name = "";
  if (star) {
    try {
      name = decodeURIComponent(star[1].trim());
    } catch {
      name = "";
    }
  }
  if (!name) {
    const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(value);
    name = plain ? plain[1].trim() : "";
  }
  name = name.replace(/[^\w.\- ]+/g, "_").replace(/^\.+/, "").slice(0, 120);
  return name || fallback;
}

/** Hand bytes to the user as a download. Object URLs are same-origin (`blob:`): navigating
 * to one to download it is not a fetch, so the page's CSP needs nothing more. */
export function handOver(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

async function save(response, fallback) {
  const name = fileName(response.headers.get("Content-Disposition"), fallback);
  handOver(await response.blob(), name);
  return name;
}

// Jobs the page follows: id -> the job as last heard of (GET or event), in state.jobs.
const wakers = new Map();    // job id -> ends the wait for the next GET (a final event came)

const RANK = {queued: 0, running: 1, done: 2, failed: 2, expired: 3};

function putJob(job) {
  update((s) => {
    const held = s.jobs.get(job.id);
    if (held && (RANK[held.status] > RANK[job.status]
                 || (held.status === job.status && (held.done || 0) > (job.done || 0)))) return {};
    return {jobs: new Map(s.jobs).set(job.id, {...(held || {}), ...job})};
  });
}

function mark(id, phase, extra = {}) {
  update((s) => ({jobs: new Map(s.jobs).set(id, {...(s.jobs.get(id) || {id}), phase, ...extra})}));
}

/** `export.progress` from the user's room: {id, kind, status, done, total}. */
export function exportProgress(data) {
  if (!data || typeof data.id !== "string" || !getState().jobs.has(data.id)) return;
  putJob({id: data.id, kind: data.kind, status: data.status, done: data.done, total: data.total});
  const wake = wakers.get(data.id);
  if (wake && FINISHED.has(data.status)) wake();
}

function pause(id, ms) {
  const heard = getState().jobs.get(id);
  if (heard && FINISHED.has(heard.status)) return Promise.resolve();   // its last event came
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    wakers.set(id, () => {
      clearTimeout(timer);
      resolve();
    });
  }).finally(() => wakers.delete(id));
}

/** Follow a job to its end and download its file; the file's name. */
export async function followJob(job, fallback) {
  putJob(job);
  let tries = 0;
  let held = job;
  while (!FINISHED.has(held.status)) {
    await pause(job.id, POLL[Math.min(tries++, POLL.length - 1)]);
    held = await api(`/exports/${job.id}`);
    putJob(held);
  }
  if (held.status !== "done") {
    throw new ApiError(0, {detail: held.status === "failed"
      ? `The file could not be made: ${held.error || "the export failed"}.`
      : "The file has expired; ask for it again."});
  }
  mark(job.id, "download");
  // file:// answers the bytes; S3 answers its short-lived link (JSON), followed below.
  const response = await fetchFile(`/exports/${job.id}/download`, "application/json, */*;q=0.5");
  let name;
  if ((response.headers.get("Content-Type") || "").startsWith("application/json")) {
    const link = await response.json();
    if (!link || typeof link.url !== "string" || !/^https?:\/\//.test(link.url)) {
      throw new ApiError(0, {detail: "The server gave no link to the file."});
    }
    name = held.file_name || fallback;
    const a = document.createElement("a");
    a.href = link.url;     // the bucket's answer says "attachment": a download, not a page
    a.rel = "noopener";
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
  } else {
    name = await save(response, held.file_name || fallback);
  }
  mark(job.id, "saved", {savedAs: name});
  return name;
}

/** A list as a file (`format` csv or xlsx), with the page's filters. `onJob` hears of the
 * job when the server makes a large list one (202) instead of answering the file. */
export async function exportList(list, format, onJob = () => {}) {
  const state = getState();
  const {path, what} = listExport(list, state);
  say(null, "");
  try {
    const joiner = path.includes("?") ? "&" : "?";
    const response = await fetchFile(`${path}${joiner}format=${format}`);
    const fallback = `${list}.${format}`;
    let rows = null;   // a job says how many rows it wrote
    const name = response.status === 202
      ? await (async () => {
        const job = await response.json();
        onJob(job.id);
        const saved = await followJob(job, fallback);
        const held = getState().jobs.get(job.id);
        rows = [held?.rows, held?.total].find(Number.isInteger) ?? null;
        return saved;
      })()
      : await save(response, fallback);
    toast(`Downloaded ${what} as ${name}${rows === null ? "" : ` (${plural(rows, "row")})`}`);
    return name;
  } catch (error) {
    say("error", `Could not export ${what}: ${problemText(error)}`);
    return null;
  }
}

/** The weekly report of the open project as a background job, downloaded when drawn. */
export async function weeklyReport({paper, from, to}) {
  const projectId = getState().projectId;
  say(null, "");
  const filters = {project_id: projectId, paper, ...(from ? {from} : {}), ...(to ? {to} : {})};
  let job;
  try {
    job = await api("/exports", {method: "POST", body: {kind: "weekly_report", format: "pdf", filters}});
  } catch (error) {
    say("error", `Could not start the weekly report: ${problemText(error)}`);
    return null;
  }
  update({reportJob: job.id});
  try {
    const name = await followJob(job, "weekly-report.pdf");
    toast(`Weekly report downloaded as ${name}`);
    return name;
  } catch (error) {
    mark(job.id, "failed", {error: problemText(error)});
    say("error", `The weekly report: ${problemText(error)}`);
    return null;
  }
}
