// The project summary as a small inline SVG chart (no chart library) and a few key figures.
// Any field may be missing (a client user is not shown costs): what is absent is not drawn.
import {html} from "./html.js";
import {amount, statusLabel, TASK_STATUSES} from "./labels.js";

const WIDTH = 320;
const LABEL = 92;
const COUNT = 34;
const ROW = 24;
const BAR = 14;

function percent(value) {
  const number = Number(value);
  return Number.isFinite(number) ? Math.max(0, Math.min(100, number)) : null;
}

/** Counts by status from the summary, or from the tasks the page holds when it has none. */
function taskCounts(summary, tasks) {
  const fromSummary = summary && summary.tasks_by_status;
  const counts = Object.fromEntries(TASK_STATUSES.map((s) => [s, 0]));
  if (fromSummary && typeof fromSummary === "object") {
    for (const [status, n] of Object.entries(fromSummary)) counts[status] = Number(n) || 0;
  } else {
    for (const task of tasks.values()) counts[task.status] = (counts[task.status] || 0) + 1;
  }
  return counts;
}

function statusRow(status, count, max, i) {
  const y = i * ROW;
  const width = max ? Math.round(((WIDTH - LABEL - COUNT) * count) / max) : 0;
  return html`<g class="row" transform=${`translate(0 ${y})`}>
    <text x="0" y=${BAR - 2} class="label">${statusLabel("task", status)}</text>
    <rect x=${LABEL} y="0" width=${WIDTH - LABEL - COUNT} height=${BAR} rx="3" class="track"/>
    ${width > 0 && html`<rect x=${LABEL} y="0" width=${width} height=${BAR} rx="3"
                              class=${`bar s-${status}`}/>`}
    <text x=${WIDTH} y=${BAR - 2} class="count" text-anchor="end">${count}</text>
  </g>`;
}

function progressRow(label, value, i, kind) {
  const y = i * ROW;
  const width = Math.round(((WIDTH - LABEL - COUNT) * value) / 100);
  return html`<g class="row" transform=${`translate(0 ${y})`}>
    <text x="0" y=${BAR - 2} class="label">${label}</text>
    <rect x=${LABEL} y="0" width=${WIDTH - LABEL - COUNT} height=${BAR} rx="7" class="track"/>
    ${width > 0 && html`<rect x=${LABEL} y="0" width=${width} height=${BAR} rx="7"
                              class=${`bar ${kind}`}/>`}
    <text x=${WIDTH} y=${BAR - 2} class="count" text-anchor="end">${value}%</text>
  </g>`;
}

function Chart({summary, tasks}) {
  const counts = taskCounts(summary, tasks);
  const statuses = [...TASK_STATUSES, ...Object.keys(counts).filter((s) => !TASK_STATUSES.includes(s))];
  const max = Math.max(0, ...Object.values(counts));
  const rows = statuses.map((status, i) => statusRow(status, counts[status] || 0, max, i));
  const progress = percent(summary && summary.progress);
  const scope = percent(summary && summary.scope_completion);
  let next = statuses.length + 0.5;
  if (progress !== null) rows.push(progressRow("Progress", Math.round(progress), next++, "progress"));
  if (scope !== null) rows.push(progressRow("Scope done", Math.round(scope), next++, "scope"));
  const height = Math.ceil(next * ROW);
  const description = statuses.map((s) => `${counts[s] || 0} ${statusLabel("task", s).toLowerCase()}`).join(", ");
  return html`<svg id="summary-chart" class="chart" viewBox=${`0 0 ${WIDTH} ${height}`}
                   role="img" aria-label=${`Tasks by status: ${description}`}>
    <title>Tasks by status</title>
    ${rows}
  </svg>`;
}

function Figure({label, value, warn = false}) {
  if (value === null || value === undefined || value === "") return null;
  return html`<div class=${warn ? "figure warn" : "figure"}><dt>${label}</dt><dd>${value}</dd></div>`;
}

export function Summary({summary, tasks, error, project}) {
  const s = summary || {};
  const overdue = s.tasks_overdue;
  return html`<section id="summary" class="card" aria-labelledby="summary-title">
    <div class="card-head">
      <h2 id="summary-title">${project ? project.name : "Project"}</h2>
      ${s.status && html`<span class="badge">${statusLabel("project", s.status)}</span>`}
    </div>
    ${error && html`<p class="note">${summary ? "This summary may be out of date" : "No summary"}: ${error}</p>`}
    <div class="summary-body">
      <${Chart} summary=${summary} tasks=${tasks}/>
      <dl class="figures">
        <${Figure} label="Tasks" value=${s.tasks_total ?? tasks.size}/>
        <${Figure} label="Overdue" value=${overdue} warn=${overdue > 0}/>
        <${Figure} label="Drawings awaiting action" value=${s.drawings_awaiting_action}/>
        <${Figure} label="Team" value=${s.team_size}/>
        <${Figure} label="Budget" value=${amount(s.budget)}/>
        <${Figure} label="Committed materials" value=${amount(s.committed_material_cost)}/>
        <${Figure} label="Budget left" value=${amount(s.budget_remaining)}
                   warn=${Number(s.budget_remaining) < 0}/>
      </dl>
    </div>
  </section>`;
}
