// The live project console: REST for reads and writes, Socket.IO for what others change.
"use strict";

const state = {
  access: sessionStorage.getItem("fpm.access"),
  refresh: sessionStorage.getItem("fpm.refresh"),
  me: JSON.parse(sessionStorage.getItem("fpm.me") || "null"),
  project: null, cursor: null, seen: new Set(), people: new Map(),
  tasks: new Map(), drawings: new Map(), scope: new Map(), socket: null, resynced: 0,
};
const $ = (id) => document.getElementById(id);

async function api(path, options = {}) {
  const headers = {"Content-Type": "application/json", ...(options.headers || {})};
  if (state.access) headers.Authorization = `Bearer ${state.access}`;
  if (state.socket && state.socket.id) headers["X-Socket-ID"] = state.socket.id;
  let response = await fetch(`/api/v1${path}`, {...options, headers});
  if (response.status === 401 && state.refresh && !options.retried) {
    if (await refreshTokens()) return api(path, {...options, retried: true});
  }
  const body = response.status === 204 ? null : await response.json();
  if (!response.ok) throw Object.assign(new Error(body.detail || body.title), {status: response.status, body});
  return {body, etag: response.headers.get("ETag")};
}

function keep(tokens) {
  state.access = tokens.access_token;
  state.refresh = tokens.refresh_token;
  sessionStorage.setItem("fpm.access", state.access);
  sessionStorage.setItem("fpm.refresh", state.refresh);
  setTimeout(refreshTokens, Math.max(10, tokens.expires_in * 0.8) * 1000);
}

async function refreshTokens() {
  const response = await fetch("/api/v1/auth/refresh", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({refresh_token: state.refresh})});
  if (!response.ok) { signOut(); return false; }
  keep(await response.json());
  return true;
}

function signOut() {
  sessionStorage.clear();
  location.reload();
}

async function signIn(event) {
  event.preventDefault();
  $("signin-error").textContent = "";
  try {
    const response = await fetch("/api/v1/auth/login", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({email: $("email").value, password: $("password").value})});
    const body = await response.json();
    if (!response.ok) throw new Error(body.detail || "Sign-in failed");
    keep(body);
    state.me = body.user;
    sessionStorage.setItem("fpm.me", JSON.stringify(body.user));
    await start();
  } catch (error) {
    $("signin-error").textContent = error.message;
  }
}

function name(id) {
  const person = state.people.get(id);
  return person ? `${person.first_name} ${person.last_name}` : (id ? "someone" : "the system");
}

function row(table, cells, id) {
  const tr = document.createElement("tr");
  tr.dataset.id = id;
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = cell ?? "";
    tr.append(td);
  }
  table.append(tr);
  return tr;
}

function render(changedId) {
  const render1 = (tableId, map, cells) => {
    const body = $(tableId).querySelector("tbody");
    body.replaceChildren();
    for (const item of map.values()) {
      const tr = row(body, cells(item), item.id);
      if (item.id === changedId) tr.classList.add("changed");
    }
  };
  render1("tasks", state.tasks, (t) => [t.name, t.status, t.version]);
  render1("drawings", state.drawings, (d) => [d.drawing_number, d.title, d.status, d.revision]);
  render1("scope", state.scope, (s) => [s.code, s.name, s.status, `${s.completion}%`]);
  options("task-select", state.tasks, (t) => t.name);
  options("drawing-select", state.drawings, (d) => `${d.drawing_number} (${d.status})`);
  actions();
}

function options(selectId, map, label) {
  const select = $(selectId);
  const chosen = select.value;
  select.replaceChildren(...[...map.values()].map((item) => new Option(label(item), item.id)));
  if (map.has(chosen)) select.value = chosen;
}

function actions() {
  const drawing = state.drawings.get($("drawing-select").value);
  const allowed = (drawing && drawing.allowed_actions) || [];
  $("drawing-action").replaceChildren(...allowed.map((a) => new Option(a.replaceAll("_", " "), a)));
}

async function loadProject(projectId) {
  state.project = projectId;
  const [tasks, drawings, scope] = await Promise.all([
    api(`/tasks?project_id=${projectId}&limit=200&sort=name`),
    api(`/shop-drawings?project_id=${projectId}&limit=200`),
    api(`/scope-items?project_id=${projectId}&limit=200`)]);
  state.tasks = new Map(tasks.body.data.map((t) => [t.id, t]));
  state.drawings = new Map(drawings.body.data.map((d) => [d.id, d]));
  state.scope = new Map(scope.body.data.map((s) => [s.id, s]));
  render();
}

function feed(event) {
  const item = document.createElement("li");
  const fields = (event.changed_fields || []).map((field) => {
    const value = event.data ? event.data[field] : undefined;
    return value === undefined ? field : `${field} → ${value}`;
  });
  const what = event.data ? (event.data.name || event.data.title || event.data.drawing_number || "") : "";
  item.textContent = `${name(event.actor_id)} ${event.action} ${event.resource.replaceAll("_", " ")}`
    + (what ? ` “${what}”` : "") + (fields.length ? `: ${fields.join(", ")}` : "");
  item.title = event.at;
  $("feed").prepend(item);
}

function apply(event) {
  if (state.seen.has(event.id)) return;          // delivered live and by resync: once
  state.seen.add(event.id);
  if (event.cursor) state.cursor = event.cursor;
  if (event.project_id && event.project_id !== state.project) return;
  feed(event);
  const maps = {task: state.tasks, shop_drawing: state.drawings, scope_item: state.scope};
  const map = maps[event.resource];
  if (!map) return;
  if (event.action === "deleted") map.delete(event.record_id);
  else map.set(event.record_id, {...(map.get(event.record_id) || {}), ...event.data});
  if (event.resource === "shop_drawing" && event.action !== "deleted") {
    api(`/shop-drawings/${event.record_id}`).then(({body}) => {   // allowed actions are per user
      state.drawings.set(body.id, body);
      render(body.id);
    }).catch(() => {});
  }
  render(event.record_id);
}

function connection(text, kind) {
  $("connection").textContent = text;
  $("connection").className = `status ${kind}`;
}

async function subscribeOrResync() {
  const socket = state.socket;
  if (!state.project) return;
  if (state.cursor === null) {
    const ack = await socket.emitWithAck("subscribe", {project_id: state.project});
    if (ack.ok) state.cursor = ack.cursor;
    connection("connected", "connected");
    return;
  }
  await socket.emitWithAck("subscribe", {project_id: state.project});
  const ack = await socket.emitWithAck("resync", {project_id: state.project, cursor: state.cursor});
  if (ack.ok && ack.gap) {
    await loadProject(state.project);
    connection("resynced (reloaded: too much was missed)", "connected");
  } else if (ack.ok) {
    const fresh = ack.events.filter((e) => !state.seen.has(e.id));
    fresh.forEach(apply);
    if (ack.cursor) state.cursor = ack.cursor;
    state.resynced += fresh.length;
    connection(`connected — resynced ${fresh.length} events`, "connected");
  }
}

function connect() {
  const socket = io({auth: (cb) => cb({token: state.access}), transports: ["websocket", "polling"]});
  state.socket = socket;
  socket.on("connect", () => subscribeOrResync().catch((e) => connection(e.message, "reconnecting")));
  socket.on("disconnect", () => connection("reconnecting…", "reconnecting"));
  socket.on("connect_error", async (error) => {
    connection("reconnecting…", "reconnecting");
    if (error.data && error.data.code === "unauthorized") await refreshTokens();
  });
  socket.on("presence", (data) => {
    if (data.project_id !== state.project) return;
    $("presence").replaceChildren(...data.users.map((u) => {
      const li = document.createElement("li");
      li.textContent = `${u.first_name} ${u.last_name}`;
      return li;
    }));
  });
  socket.on("typing", (data) => {
    $("typing").textContent = data.active ? `${data.user.first_name} is typing in ${data.field || "a field"}…` : "";
  });
  socket.on("evicted", (data) => { $("message").textContent = `You no longer have access (${data.reason}).`; });
  socket.on("import.completed", () => loadProject(state.project));
  socket.on("resync_required", () => subscribeOrResync().catch(() => {}));
  socket.onAny((event, payload) => { if (event.includes(".") && payload && payload.id) apply(payload); });
}

async function saveStatus(event) {
  event.preventDefault();
  $("message").textContent = "";
  const task = state.tasks.get($("task-select").value);
  if (!task) return;
  try {
    const {body} = await api(`/tasks/${task.id}`, {
      method: "PATCH", headers: {"If-Match": `"${task.version}"`},
      body: JSON.stringify({status: $("task-status").value})});
    state.tasks.set(body.id, body);
    render(body.id);
  } catch (error) {
    if (error.status === 412) {
      $("message").textContent = `Conflict: “${task.name}” was changed by someone else `
        + `(now version ${error.body.current_version}). Reloaded; check it and try again.`;
      const {body} = await api(`/tasks/${task.id}`);
      state.tasks.set(body.id, body);
      render(body.id);
    } else {
      $("message").textContent = error.message;
    }
  }
}

async function transition(event) {
  event.preventDefault();
  $("message").textContent = "";
  const drawing = state.drawings.get($("drawing-select").value);
  if (!drawing || !$("drawing-action").value) return;
  try {
    const {body} = await api(`/shop-drawings/${drawing.id}/transitions`, {
      method: "POST", headers: {"If-Match": `"${drawing.version}"`},
      body: JSON.stringify({action: $("drawing-action").value, comment: $("drawing-comment").value || null})});
    state.drawings.set(body.id, body);
    $("drawing-comment").value = "";
    render(body.id);
  } catch (error) {
    $("message").textContent = error.status === 412 ? "Conflict: the drawing changed meanwhile; reloaded." : error.message;
    if (error.status === 412) await loadProject(state.project);
  }
}

function typing(active) {
  if (state.socket && state.project) {
    state.socket.emit("typing", {project_id: state.project, resource: "shop_drawing",
                                 record_id: $("drawing-select").value, field: "comment", active});
  }
}

async function start() {
  $("signin").hidden = true;
  $("workspace").hidden = false;
  $("who").textContent = state.me ? `${state.me.first_name} ${state.me.last_name} (${state.me.role})` : "";
  const [projects, people] = await Promise.all([api("/projects?limit=200&sort=name"), api("/users?limit=200")]);
  people.body.data.forEach((p) => state.people.set(p.id, p));
  $("project").replaceChildren(...projects.body.data.map((p) => new Option(p.name, p.id)));
  const first = new URLSearchParams(location.search).get("project") || (projects.body.data[0] || {}).id;
  if (first) { $("project").value = first; await loadProject(first); }
  connect();
}

document.addEventListener("DOMContentLoaded", () => {
  $("signin-form").addEventListener("submit", signIn);
  $("task-form").addEventListener("submit", saveStatus);
  $("drawing-form").addEventListener("submit", transition);
  $("drawing-select").addEventListener("change", actions);
  $("drawing-comment").addEventListener("focus", () => typing(true));
  $("drawing-comment").addEventListener("blur", () => typing(false));
  $("project").addEventListener("change", async () => {
    if (state.socket && state.project) await state.socket.emitWithAck("unsubscribe", {project_id: state.project});
    state.cursor = null;
    await loadProject($("project").value);
    await subscribeOrResync();
  });
  if (state.access) start().catch(() => signOut());
});
