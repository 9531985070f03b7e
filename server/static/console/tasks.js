// Tasks: who has each one and when it is due, filters, and a status form that always
// belongs to the task it is shown under (it is keyed by the task's id and version).
import {useState} from "../vendor/preact-hooks.mjs";
import {saveTaskStatus, select, setFilter} from "./actions.js";
import {nameOf} from "./data.js";
import {ExportMenu} from "./export-menu.js";
import {html} from "./html.js";
import {isOverdue, shortDate, statusLabel, TASK_STATUSES} from "./labels.js";

const FILTER_LABELS = {all: "All", mine: "My tasks", overdue: "Overdue"};

export function visibleTasks(tasks, filter, me, now) {
  const all = [...tasks.values()];
  const chosen = filter === "mine" ? all.filter((t) => t.assigned_to === me)
    : filter === "overdue" ? all.filter((t) => isOverdue(t, now)) : all;
  // Overdue first, then by due date (none last), then by name.
  return chosen.sort((a, b) => (isOverdue(b, now) - isOverdue(a, now))
    || (a.due_date || "9999").localeCompare(b.due_date || "9999")
    || a.name.localeCompare(b.name));
}

function counts(tasks, me, now) {
  const all = [...tasks.values()];
  return {all: all.length, mine: all.filter((t) => t.assigned_to === me).length,
          overdue: all.filter((t) => isOverdue(t, now)).length};
}

function StatusForm({task, canEdit}) {
  const [status, setStatus] = useState(task.status);
  const [saving, setSaving] = useState(false);
  if (!canEdit) return null;
  const submit = async (event) => {
    event.preventDefault();
    setSaving(true);
    await saveTaskStatus(task, status);
    setSaving(false);
  };
  return html`<form id="task-form" class="inline-form" onSubmit=${submit}>
    <label for="task-status">Status of “${task.name}”</label>
    <div class="form-row">
      <select id="task-status" value=${status} onChange=${(e) => setStatus(e.currentTarget.value)}>
        ${TASK_STATUSES.map((s) => html`<option value=${s} selected=${s === status}>${statusLabel("task", s)}</option>`)}
      </select>
      <button type="submit" class="primary" disabled=${saving || status === task.status}>
        ${saving ? "Saving…" : "Save status"}
      </button>
    </div>
  </form>`;
}

function TaskItem({task, selected, changed, canEdit, me, now, epoch}) {
  const overdue = isOverdue(task, now);
  const assignee = task.assigned_to ? (task.assigned_to === me ? "You" : nameOf(task.assigned_to)) : "Unassigned";
  return html`<li class=${`item${selected ? " selected" : ""}${changed ? " changed" : ""}`}
                  data-id=${task.id}>
    <button type="button" class="item-head" aria-expanded=${selected}
            onClick=${() => select("task", task.id)}>
      <span class="item-title">${task.name}</span>
      <span class=${`badge s-${task.status}`}>${statusLabel("task", task.status)}</span>
      <span class="item-meta">
        <span class="assignee">${assignee}</span>
        ${task.due_date ? html`<span class=${overdue ? "due overdue" : "due"}>
            ${overdue ? "Overdue · " : "Due "}<time datetime=${task.due_date}>${shortDate(task.due_date, now)}</time>
          </span>` : html`<span class="due none">No due date</span>`}
      </span>
    </button>
    ${selected && html`<${StatusForm} key=${`${task.id}:${task.version}:${epoch}`} task=${task} canEdit=${canEdit}/>`}
  </li>`;
}

export function Tasks({state, canEdit}) {
  const me = state.session.user.id;
  const tasks = visibleTasks(state.tasks, state.filter, me, state.now);
  const n = counts(state.tasks, me, state.now);
  const empty = {all: "No tasks in this project yet.", mine: "No task is assigned to you.",
                 overdue: "Nothing is overdue."}[state.filter];
  return html`<section id="tasks-section" class="card" aria-labelledby="tasks-title">
    <div class="card-head"><h2 id="tasks-title">Tasks</h2><${ExportMenu} list="tasks" state=${state}/></div>
    <div class="filters" role="group" aria-label="Show">
      ${Object.entries(FILTER_LABELS).map(([key, label]) => html`
        <button type="button" id=${`filter-${key}`} class="chip" aria-pressed=${state.filter === key}
                onClick=${() => setFilter(key)}>${label} <span class="chip-count">${n[key]}</span></button>`)}
    </div>
    <ul id="tasks" class="items">
      ${tasks.map((task) => html`<${TaskItem} key=${task.id} task=${task} me=${me} now=${state.now}
          selected=${state.selected.task === task.id} changed=${state.changed === task.id}
          canEdit=${canEdit} epoch=${state.epoch}/>`)}
    </ul>
    ${tasks.length === 0 && html`<p class="empty">${empty}</p>`}
  </section>`;
}
