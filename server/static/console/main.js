// The live project console: sign in, pick a project, see and change its work as it happens.
// Preact + htm from vendor/ (no build step); REST for reads and writes, Socket.IO for others' changes.
import {render} from "../vendor/preact.mjs";
import {useEffect, useState} from "../vendor/preact-hooks.mjs";
import {chooseProject, resume, sessionEnded, signIn, signOut} from "./actions.js";
import {Activity, Presence} from "./activity.js";
import {Summary} from "./chart.js";
import {Register} from "./drawing-register.js";
import {WeeklyReport} from "./export-menu.js";
import {Reviews} from "./review-list.js";
import {Rfis} from "./rfi-log.js";
import {Procurement, Readiness} from "./schedule.js";
import {Diary} from "./site-diary.js";
import {Snags} from "./snag-pins.js";
import {html} from "./html.js";
import {fullName, roleLabel} from "./labels.js";
import {say, update, useStore} from "./store.js";
import {Tasks} from "./tasks.js";
import {Drawings, Specs} from "./workflow.js";

const CONNECTION = {connected: "connected", connecting: "connecting…",
                    reconnecting: "reconnecting…", offline: "offline"};

function Connection({state}) {
  return html`<p id="connection" class=${`pill ${state.connection}`} role="status" aria-live="polite">
    <span class="dot" aria-hidden="true"></span>${CONNECTION[state.connection] || state.connection}
  </p>`;
}

function SignIn({state}) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const submit = (event) => {
    event.preventDefault();
    signIn(email.trim(), password);
  };
  return html`<main class="signin">
    <form id="signin-form" class="card" onSubmit=${submit}>
      <h1>Formula PM</h1>
      <p class="muted">Sign in to follow your projects live.</p>
      <label for="email">E-mail</label>
      <input id="email" type="email" autocomplete="username" required value=${email}
             onInput=${(e) => setEmail(e.currentTarget.value)}/>
      <label for="password">Password</label>
      <input id="password" type="password" autocomplete="current-password" required value=${password}
             onInput=${(e) => setPassword(e.currentTarget.value)}/>
      <button type="submit" class="primary" disabled=${state.busy}>${state.busy ? "Signing in…" : "Sign in"}</button>
      <p id="signin-error" class="error" role="alert">${state.signinError}</p>
    </form>
  </main>`;
}

function Header({state}) {
  const user = state.session.user;
  const [busy, setBusy] = useState(false);
  const out = async () => {
    setBusy(true);
    await signOut();
  };
  return html`<header class="bar">
    <span class="brand">Formula PM</span>
    <${Connection} state=${state}/>
    <button id="signout" type="button" class="quiet" onClick=${out} disabled=${busy}>
      ${busy ? "Signing out…" : "Sign out"}
    </button>
    <span id="who" class="who">${fullName(user)} · ${roleLabel(user.role)}</span>
    <label class="project-picker"><span class="sr-only">Project</span>
      <select id="project" value=${state.projectId || ""}
              onChange=${(e) => chooseProject(e.currentTarget.value)}>
        ${state.projects.map((p) => html`<option value=${p.id} selected=${p.id === state.projectId}>${p.name}</option>`)}
      </select>
    </label>
    <nav class="jump" aria-label="Sections">
      <a href="#tasks-section">Tasks</a><a href="#rfis-section">RFIs</a>
      <a href="#reviews-section">Reviews</a><a href="#register-section">Register</a>
      <a href="#snags-section">Snags</a>
      <a href="#drawings-section">Shop drawings</a>
      <a href="#specs-section">Materials</a><a href="#procurement-section">Procurement</a>
      <a href="#readiness-section">Readiness</a>
      ${user.role !== "client" && html`<a href="#diary-section">Diary</a>`}
      <a href="#report-section">Report</a>
      <a href="#activity-section">Activity</a>
    </nav>
  </header>`;
}

function Message({message}) {
  return html`<div id="message" class=${message ? `message ${message.kind}` : "message"} role="alert">
    ${message && html`<span>${message.text}</span>
      <button type="button" class="quiet" aria-label="Dismiss" onClick=${() => say(null, "")}>×</button>`}
  </div>`;
}

function Workspace({state}) {
  const project = state.projects.find((p) => p.id === state.projectId);
  const canEdit = state.session.user.role !== "client";   // clients read, never write
  return html`<${Header} state=${state}/>
    <${Message} message=${state.message}/>
    ${state.loadErrors.length > 0 && html`<p class="message error">Some lists could not be read: ${state.loadErrors.join("; ")}</p>`}
    ${state.projects.length === 0 && html`<p class="empty card">You are not on any project yet.</p>`}
    ${project && html`<main class="layout">
      <div class="main-col">
        <${Summary} summary=${state.summary} tasks=${state.tasks} error=${state.summaryError} project=${project}/>
        <${WeeklyReport} state=${state}/>
        <${Tasks} state=${state} canEdit=${canEdit}/>
        <${Rfis} state=${state}/>
        <${Reviews} state=${state}/>
        <${Register} state=${state}/>
        <${Snags} state=${state}/>
        <${Drawings} state=${state}/>
        <${Specs} state=${state}/>
        <${Procurement} state=${state}/>
        <${Readiness} state=${state}/>
        <${Diary} state=${state}/>
      </div>
      <aside class="side-col">
        <${Activity} state=${state}/>
        <${Presence} state=${state}/>
      </aside>
    </main>`}`;
}

function Toast({toast}) {
  return html`<div id="toast" class=${toast ? "toast shown" : "toast"} role="status" aria-live="polite">
    ${toast && toast.text}</div>`;
}

function App() {
  const state = useStore();
  useEffect(() => {
    const tick = setInterval(() => update({now: Date.now()}), 20_000);  // "2 min ago" moves on
    return () => clearInterval(tick);
  }, []);
  return html`${state.session ? html`<${Workspace} state=${state}/>` : html`<${SignIn} state=${state}/>`}
    <${Toast} toast=${state.toast}/>`;
}

window.addEventListener("fpm:session-ended", sessionEnded);
const root = document.getElementById("app");
root.replaceChildren();          // the "Loading…" placeholder
render(html`<${App}/>`, root);
resume();
