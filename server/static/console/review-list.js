// Records under review: each review's steps in order, their reviewers (by name, team role or
// client company) with what they answered or when it is due, ball in court (late answers
// marked), and the signed-in reviewer's own open task with its outcome and comment.
import {useState} from "../vendor/preact-hooks.mjs";
import {nameOf} from "./data.js";
import {html} from "./html.js";
import {humanize, shortDate, statusLabel, roleLabel} from "./labels.js";
import {canAnswer, isLate, respondTask} from "./reviews.js";
import {update} from "./store.js";

const RULE = {all: "every reviewer answers", any: "one reviewer answers"};
const TASK_STATE = {pending: "Waiting", closed: "Not needed", skipped: "Skipped"};

function reviewer(kind, ref, me, project) {
  if (kind === "user") return ref === me ? "You" : nameOf(ref);
  if (kind === "role") return `Any ${roleLabel(ref).toLowerCase()}`;
  if (kind === "client") return project && project.client_id === ref ? "The client" : "A client company";
  return humanize(kind);
}

/** The reviewed record as the page knows it (shop drawings and specs are loaded). */
function recordTitle(review, state) {
  if (review.entity_type === "shop_drawing") {
    const d = state.drawings.get(review.entity_id);
    return d ? `${d.drawing_number} · ${d.title}` : "A shop drawing";
  }
  const s = state.specs.get(review.entity_id);
  return s ? (s.code ? `${s.code} · ${s.description}` : s.description) : "A material spec";
}

function Due({date, late, now}) {
  if (!date) return null;
  return html`<span class=${late ? "due overdue" : "due"}>${late ? "Overdue · " : "due "}<time
    datetime=${date}>${shortDate(date, now)}</time></span>`;
}

function Court({review, user, members, project, now}) {
  const court = review.ball_in_court || [];
  if (review.status !== "in_progress") return html`<span class="court">Closed — nobody's move</span>`;
  if (court.length === 0) return html`<span class="court">Ball in court: nobody yet</span>`;
  // A task the signed-in user may answer (theirs by name, role or company) is "You".
  const tasks = new Map((review.tasks || []).map((t) => [t.id, t]));
  const named = (h) => {
    const task = tasks.get(h.task_id);
    const name = reviewer(h.kind, h.ref, user.id, project);
    return task && canAnswer(task, user, members) && name !== "You" ? `You (${name.toLowerCase()})` : name;
  };
  const names = [...new Set(court.map(named))];
  const first = court[0];
  const late = Boolean(first.due_on) && isLate({state: "pending", due_on: first.due_on}, now);
  return html`<span class="court">Ball in court: ${names.join(", ")}</span>
    <${Due} date=${first.due_on} late=${late} now=${now}/>`;
}

function Answer({review, task}) {
  const outcomes = review.outcomes || [];
  const [outcome, setOutcome] = useState("");
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    await respondTask(task, outcome, comment.trim());
    setBusy(false);
  };
  return html`<form class="inline-form review-answer" id=${`answer-${task.id}`} onSubmit=${submit}>
    <label for=${`outcome-${task.id}`}>Your answer</label>
    <select id=${`outcome-${task.id}`} class="review-outcome" required value=${outcome}
            onChange=${(e) => setOutcome(e.currentTarget.value)}>
      <option value="" selected=${outcome === ""} disabled>Choose an outcome…</option>
      ${outcomes.map((o) => html`<option value=${o.label} selected=${o.label === outcome}>${humanize(o.label)}</option>`)}
    </select>
    <label for=${`comment-${task.id}`}>Comment</label>
    <textarea id=${`comment-${task.id}`} class="review-comment" rows="2" maxlength="2000"
              value=${comment} onInput=${(e) => setComment(e.currentTarget.value)}></textarea>
    <button type="submit" class="primary" disabled=${busy || !outcome}>
      ${busy ? "Sending…" : "Send answer"}</button>
  </form>`;
}

function Task({task, me, project, now}) {
  const late = isLate(task, now);
  const state = task.state === "responded" ? humanize(task.outcome) : TASK_STATE[task.state] || humanize(task.state);
  return html`<li class=${`reviewer t-${task.state}`} data-id=${task.id} data-state=${task.state}>
    <span class="rv-name">${reviewer(task.reviewer_kind, task.reviewer_ref, me, project)}${task.required ? "" : " (optional)"}</span>
    <span class=${`badge s-task-${task.state}`}>${state}</span>
    ${task.state === "pending" && html`<${Due} date=${task.due_on} late=${late} now=${now}/>`}
    ${task.state === "responded" && task.responded_by && task.responded_by !== task.reviewer_ref
      && html`<span class="muted">by ${task.responded_by === me ? "you" : nameOf(task.responded_by)}</span>`}
    ${task.comment && html`<p class="text comment">“${task.comment}”</p>`}
  </li>`;
}

function Step({review, step, index, me, project, now}) {
  const tasks = (review.tasks || []).filter((t) => t.step === index);
  const running = review.status === "in_progress" && review.current_step === index;
  const phase = running ? "current" : tasks.length > 0 ? "done" : "waiting";
  const rule = step.rule === "count" ? `${step.count} reviewers answer` : RULE[step.rule] || step.rule;
  return html`<li class=${`step ${phase}`} data-step=${index} data-phase=${phase}>
    <p class="step-head"><strong>${index + 1}. ${step.name || `Step ${index + 1}`}</strong>
      <span class="muted"> · ${rule} · ${step.days} working days</span></p>
    <ul class="reviewers">
      ${tasks.map((t) => html`<${Task} key=${t.id} task=${t} me=${me} project=${project} now=${now}/>`)}
      ${tasks.length === 0 && step.reviewers.map((r) => html`<li class="reviewer t-later">
        <span class="rv-name">${reviewer(r.kind, r.ref, me, project)}</span>
        <span class="badge">Not started</span></li>`)}
    </ul>
  </li>`;
}

function Review({state, review, project, open}) {
  const user = state.session.user;
  const me = user.id;
  const running = review.status === "in_progress";
  const shown = running || open;
  const mine = running ? (review.tasks || []).filter((t) => canAnswer(t, user, state.members)) : [];
  const badge = running ? "In review" : review.status === "completed"
    ? (review.result ? humanize(review.result) : "Completed") : "Terminated";
  const kind = review.result_status || (running ? "in_review" : review.status);
  const steps = review.steps || [];
  const head = html`<span class="item-title">${recordTitle(review, state)}</span>
    <span class=${`badge s-${kind}`}>${badge}</span>
    <span class="item-meta">
      <span>${review.name} · ${running ? `step ${review.current_step + 1} of ${steps.length}`
        : `${statusLabel(review.entity_type, review.result_status) || "no decision"}`}</span>
      <${Court} review=${review} user=${user} members=${state.members} project=${project}
                now=${state.now}/>
    </span>`;
  return html`<li class=${`item review${shown ? " selected" : ""}${state.changed === review.id ? " changed" : ""}`}
                  data-id=${review.id} data-status=${review.status}>
    ${running ? html`<div class="item-head">${head}</div>`
      : html`<button type="button" class="item-head" aria-expanded=${open}
          onClick=${() => update((s) => ({openReview: s.openReview === review.id ? null : review.id}))}>${head}</button>`}
    ${shown && html`<div class="review-body">
      <ol class="steps">${steps.map((step, i) => html`<${Step} key=${i} review=${review} step=${step}
          index=${i} me=${me} project=${project} now=${state.now}/>`)}</ol>
      ${mine.map((t) => html`<${Answer} key=${t.id} review=${review} task=${t}/>`)}
    </div>`}
  </li>`;
}

export function Reviews({state}) {
  const user = state.session.user;
  const project = state.projects.find((p) => p.id === state.projectId);
  // Running reviews first (earliest answer due first), then the decided ones, newest first.
  const due = (r) => ((r.ball_in_court || [])[0] || {}).due_on || "9999";
  const reviews = [...state.reviews.values()].sort((a, b) =>
    ((b.status === "in_progress") - (a.status === "in_progress"))
    || (a.status === "in_progress" ? due(a).localeCompare(due(b)) : 0)
    || (b.created_at || "").localeCompare(a.created_at || ""));
  const running = reviews.filter((r) => r.status === "in_progress");
  const waiting = running.filter((r) => (r.tasks || []).some((t) => canAnswer(t, user, state.members))).length;
  return html`<section id="reviews-section" class="card" aria-labelledby="reviews-title">
    <div class="card-head"><h2 id="reviews-title">Reviews</h2>
      <span class="muted" id="reviews-count">${running.length} in review${waiting ? ` · ${waiting} awaiting you` : ""}</span></div>
    <ul id="reviews" class="items">
      ${reviews.map((r) => html`<${Review} key=${r.id} state=${state} review=${r} project=${project}
          open=${state.openReview === r.id}/>`)}
    </ul>
    ${reviews.length === 0 && html`<p class="empty">Nothing is under review.</p>`}
  </section>`;
}
