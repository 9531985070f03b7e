// The RFI log: each RFI's number, subject, status, ball in court and due date (late ones
// marked), opened to its question, responses and official answer; a new RFI, a response,
// the official answer and the RFI's moves for whoever may make them.
import {useState} from "../vendor/preact-hooks.mjs";
import {nameOf} from "./data.js";
import {html} from "./html.js";
import {ago, humanize, plural, shortDate, today} from "./labels.js";
import {isLate, isRfiManager, makeOfficial, moveRfi, openRfi, RAISE_RFI, raiseRfi, respondRfi,
        rfiActions, rfiCourt} from "./rfis.js";

const STATUS = {draft: "Draft", open: "Open", answered: "Answered", closed: "Closed", void: "Void"};
const ORDER = ["open", "answered", "draft", "closed", "void"];
const ACTION = {open: "Send for an answer", close: "Close", reopen: "Reopen", void: "Void"};

const person = (id, me) => (id === me ? "You" : nameOf(id));

function courtWords(rfi, me) {
  const court = rfiCourt(rfi);
  if (!court.party) return "Closed — nobody's move";
  if (court.users.length === 0) return "Ball in court: the team";
  const names = court.users.map((id) => person(id, me));
  const shown = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more`
    : names.join(", ");
  const why = court.party === "creator" ? (rfi.status === "draft" ? " (to send)" : " (to close)") : "";
  return `Ball in court: ${shown}${why}`;
}

function Due({rfi, now}) {
  if (!rfi.due_on) return html`<span class="due none">No due date</span>`;
  const late = isLate(rfi, now);
  return html`<span class=${late ? "due overdue" : "due"}>${late ? "Overdue · " : "Due "}<time
    datetime=${rfi.due_on}>${shortDate(rfi.due_on, now)}</time></span>`;
}

function Response({rfi, response, me, manager, now}) {
  const [busy, setBusy] = useState(false);
  const official = rfi.official_response_id === response.id;
  const mark = async () => {
    setBusy(true);
    await makeOfficial(rfi, response);
    setBusy(false);
  };
  return html`<li class=${`response${official ? " official" : ""}`} data-id=${response.id}>
    <p class="response-meta"><strong>${person(response.author_id, me)}</strong>
      ${" · "}<time datetime=${response.created_at}>${ago(response.created_at, now)}</time>
      ${official && html` <span class="mark current">Official answer</span>`}</p>
    <p class="text">${response.body}</p>
    ${manager && !official && ["open", "answered"].includes(rfi.status) && html`<button
        type="button" class="quiet make-official" onClick=${mark} disabled=${busy}>
        ${busy ? "Marking…" : "Mark as the official answer"}</button>`}
  </li>`;
}

function RespondForm({rfi}) {
  const [body, setBody] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    if (await respondRfi(rfi, body.trim())) setBody("");
    setBusy(false);
  };
  return html`<form id="rfi-respond" class="inline-form" onSubmit=${submit}>
    <label for="rfi-response">Your response to ${rfi.number}</label>
    <textarea id="rfi-response" rows="3" maxlength="10000" required value=${body}
              onInput=${(e) => setBody(e.currentTarget.value)}></textarea>
    <button type="submit" class="primary" disabled=${busy || !body.trim()}>
      ${busy ? "Sending…" : "Send response"}</button>
  </form>`;
}

function Moves({rfi, actions}) {
  const [busy, setBusy] = useState("");
  if (actions.length === 0) return null;
  const go = async (action) => {
    setBusy(action);
    await moveRfi(rfi, action);
    setBusy("");
  };
  return html`<div class="moves" role="group" aria-label=${`Move ${rfi.number}`}>
    ${actions.map((a) => html`<button type="button" class=${a === "void" ? "quiet" : "primary"}
        id=${`rfi-${a}`} disabled=${Boolean(busy)} onClick=${() => go(a)}>
        ${busy === a ? "…" : ACTION[a]}</button>`)}
  </div>`;
}

function RfiBody({rfi, user, now}) {
  const me = user.id;
  const responses = rfi.responses || [];
  const official = responses.find((r) => r.id === rfi.official_response_id);
  const actions = rfiActions(rfi, user);
  const manager = isRfiManager(rfi, user);
  const facts = [["Raised by", person(rfi.created_by, me)], ["Priority", humanize(rfi.priority)],
                 ["Discipline", rfi.discipline], ["Location", rfi.location],
                 ["Distribution", (rfi.distribution || []).map((id) => person(id, me)).join(", ")]]
    .filter(([, value]) => value);
  return html`<div class="rfi-body">
    <p class="question text">${rfi.question}</p>
    <dl class="facts">${facts.map(([k, v]) => html`<div><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
    ${official && html`<div class="official-answer" id=${`official-${rfi.id}`}>
      <h3>Official answer</h3><p class="text">${official.body}</p>
      <p class="response-meta">${person(official.author_id, me)}</p></div>`}
    <h3>${responses.length ? plural(responses.length, "response") : "No response yet"}</h3>
    <ol class="responses" id=${`responses-${rfi.id}`}>
      ${responses.map((r) => html`<${Response} key=${r.id} rfi=${rfi} response=${r} me=${me}
          manager=${manager} now=${now}/>`)}
    </ol>
    ${user.role !== "client" && ["open", "answered"].includes(rfi.status)
      && html`<${RespondForm} key=${rfi.id} rfi=${rfi}/>`}
    <${Moves} rfi=${rfi} actions=${actions}/>
  </div>`;
}

function Rfi({rfi, user, open, changed, now}) {
  const count = (rfi.responses || []).length;
  return html`<li class=${`item rfi${open ? " selected" : ""}${changed ? " changed" : ""}`}
                  data-id=${rfi.id} data-status=${rfi.status}>
    <button type="button" class="item-head" aria-expanded=${open} onClick=${() => openRfi(rfi.id)}>
      <span class="item-title">${rfi.number} · ${rfi.subject}</span>
      <span class=${`badge s-rfi-${rfi.status}`}>${STATUS[rfi.status] || humanize(rfi.status)}</span>
      <span class="item-meta">
        <span class="court">${courtWords(rfi, user.id)}</span>
        <${Due} rfi=${rfi} now=${now}/>
        <span class="count">${plural(count, "response")}</span>
      </span>
    </button>
    ${open && html`<${RfiBody} rfi=${rfi} user=${user} now=${now}/>`}
  </li>`;
}

function NewRfi({state, close}) {
  const me = state.session.user.id;
  const [subject, setSubject] = useState("");
  const [question, setQuestion] = useState("");
  const [due, setDue] = useState("");
  const [priority, setPriority] = useState("normal");
  const [who, setWho] = useState(new Set());
  const [send, setSend] = useState(true);
  const [busy, setBusy] = useState(false);
  const team = [...state.members.keys()].filter((id) => id !== me)
    .sort((a, b) => nameOf(a).localeCompare(nameOf(b)));
  const toggle = (id) => {
    const next = new Set(who);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setWho(next);
  };
  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    const fields = {subject: subject.trim(), question: question.trim(), priority,
                    distribution: [...who], ...(due ? {due_on: due} : {})};
    const rfi = await raiseRfi(fields, send);
    setBusy(false);
    if (rfi) close();
  };
  return html`<form id="rfi-form" class="inline-form new-rfi" onSubmit=${submit}>
    <label for="rfi-subject">Subject</label>
    <input id="rfi-subject" required maxlength="300" value=${subject}
           onInput=${(e) => setSubject(e.currentTarget.value)}/>
    <label for="rfi-question">Question</label>
    <textarea id="rfi-question" rows="3" required maxlength="10000" value=${question}
              onInput=${(e) => setQuestion(e.currentTarget.value)}></textarea>
    <div class="form-row">
      <div><label for="rfi-due">Due (default: 7 working days)</label>
        <input id="rfi-due" type="date" min=${today(state.now)} value=${due}
               onInput=${(e) => setDue(e.currentTarget.value)}/></div>
      <div><label for="rfi-priority">Priority</label>
        <select id="rfi-priority" value=${priority} onChange=${(e) => setPriority(e.currentTarget.value)}>
          ${["low", "normal", "high"].map((p) => html`<option value=${p} selected=${p === priority}>${humanize(p)}</option>`)}
        </select></div>
    </div>
    <fieldset class="checks" id="rfi-distribution"><legend>Who answers (distribution)</legend>
      ${team.map((id) => html`<label class="check"><input type="checkbox" value=${id}
          checked=${who.has(id)} onChange=${() => toggle(id)}/>${nameOf(id)}</label>`)}
      ${team.length === 0 && html`<p class="note">Nobody else is on the team.</p>`}
    </fieldset>
    <label class="check"><input id="rfi-send" type="checkbox" checked=${send}
        onChange=${(e) => setSend(e.currentTarget.checked)}/>Send it now (otherwise a draft)</label>
    <button type="submit" class="primary" disabled=${busy || !subject.trim() || !question.trim()}>
      ${busy ? "Raising…" : "Raise RFI"}</button>
  </form>`;
}

export function Rfis({state}) {
  const user = state.session.user;
  const [creating, setCreating] = useState(false);
  const rfis = [...state.rfis.values()].sort((a, b) =>
    (ORDER.indexOf(a.status) - ORDER.indexOf(b.status)) || (a.seq - b.seq));
  const open = rfis.filter((r) => r.status === "open").length;
  const late = rfis.filter((r) => isLate(r, state.now)).length;
  return html`<section id="rfis-section" class="card" aria-labelledby="rfis-title">
    <div class="card-head"><h2 id="rfis-title">RFIs</h2>
      <span class="muted" id="rfis-count">${open} open${late ? html` · <span class="due overdue">${late} overdue</span>` : ""}</span>
      ${RAISE_RFI.has(user.role) && html`<button type="button" id="rfi-new" class=${creating ? "quiet" : "primary"}
          aria-expanded=${creating} onClick=${() => setCreating(!creating)}>${creating ? "Cancel" : "New RFI"}</button>`}
    </div>
    ${creating && html`<${NewRfi} state=${state} close=${() => setCreating(false)}/>`}
    <ul id="rfis" class="items">
      ${rfis.map((r) => html`<${Rfi} key=${r.id} rfi=${r} user=${user} now=${state.now}
          open=${state.openRfi === r.id} changed=${state.changed === r.id}/>`)}
    </ul>
    ${rfis.length === 0 && html`<p class="empty">No RFIs in this project yet.</p>`}
  </section>`;
}
