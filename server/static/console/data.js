// What the page holds of the open project: REST reads, and change events merged into them.
import {api, fetchAll} from "./api.js";
import {DIARY_EVENTS, diaryEvent, loadDiary} from "./diaries.js";
import {fullName} from "./labels.js";
import {loadProcurement, loadReadiness, procurementEvent, READINESS_EVENTS} from "./procurement.js";
import {loadRegister, REGISTER_EVENTS, registerEvent} from "./register.js";
import {loadReviews, REVIEW_EVENTS, reviewEvent} from "./reviews.js";
import {loadRfis, RFI_EVENTS, rfiEvent} from "./rfis.js";
import {sentence} from "./sentences.js";
import {loadSnags, SNAG_EVENTS, snagEvent} from "./snags.js";
import {emptyProject, freshMap, getState, update, withRecord, without} from "./store.js";

const FEED_LENGTH = 100;
// resource -> [state key, REST collection]: what the lists show and how to reread one record.
export const LISTS = {
  task: ["tasks", "tasks"], shop_drawing: ["drawings", "shop-drawings"],
  material_spec: ["specs", "material-specs"],
};
// Allowed actions and ball in court are computed per caller: reread, never taken from events.
const REREAD = new Set(["shop_drawing", "material_spec"]);
const seen = new Set();        // event ids applied (live and resync may both bring one)
const ownRequests = new Set(); // request ids of this page's writes

export function nameOf(userId) {
  const person = getState().members.get(userId);
  return person ? fullName(person) : "Someone outside the team";
}

export async function loadProjects() {
  const projects = await fetchAll("/projects?sort=name");
  const wanted = new URLSearchParams(location.search).get("project");
  const chosen = projects.find((p) => p.id === wanted) || projects[0] || null;
  update({projects, projectId: chosen && chosen.id});
  return chosen && chosen.id;
}

/** Reset the project part of the state (a project switch): nothing of the last one shows. */
export function openProject(projectId) {
  seen.clear();
  update({...emptyProject(), projectId});
  const url = new URL(location.href);
  url.searchParams.set("project", projectId);
  history.replaceState(null, "", url);
}

/** Everything the project's screens show, read over REST. A list that fails is reported and
 * left empty; the others still show. */
export async function loadProject(projectId) {
  const reads = {
    tasks: fetchAll(`/tasks?project_id=${projectId}&sort=due_date`),
    drawings: fetchAll(`/shop-drawings?project_id=${projectId}`),
    specs: fetchAll(`/material-specs?project_id=${projectId}`),
    members: fetchAll(`/projects/${projectId}/members`),
  };
  const later = [
    loadRegister(projectId).then(() => "", (error) => `drawing register: ${error.message}`),
    loadRfis(projectId).then(() => "", (error) => `RFIs: ${error.message}`),
    loadReviews(projectId).then(() => "", (error) => `reviews: ${error.message}`),
    loadProcurement(projectId).then(() => "", (error) => `procurement: ${error.message}`),
    loadReadiness(projectId).then(() => "", (error) => `readiness: ${error.message}`),
    loadDiary(projectId).then(() => "", (error) => `site diary: ${error.message}`),
    loadSnags(projectId).then(() => "", (error) => `snags: ${error.message}`),
  ];
  const results = await Promise.allSettled(Object.values(reads));
  if (getState().projectId !== projectId) return;
  const patch = {loadErrors: []};
  Object.keys(reads).forEach((key, i) => {
    const result = results[i];
    if (result.status === "rejected") {
      patch.loadErrors.push(`${key}: ${result.reason.message}`);
    } else if (key === "members") {
      patch.members = new Map(result.value.map((m) => [m.user_id, {...m.user, project_role: m.role}]));
    } else {
      patch[key] = freshMap(getState()[key], result.value);
    }
  });
  update(patch);
  const [, ...failed] = await Promise.all([loadSummary(projectId), ...later]);
  if (failed.some(Boolean) && getState().projectId === projectId) {
    update((s) => ({loadErrors: [...s.loadErrors, ...failed.filter(Boolean)]}));
  }
}

export async function loadSummary(projectId = getState().projectId) {
  try {
    const summary = await api(`/projects/${projectId}/summary`);
    if (getState().projectId === projectId) update({summary, summaryError: ""});
  } catch (error) {
    if (getState().projectId === projectId) update({summaryError: error.message});
  }
}

let summaryTimer = null;

/** The summary again, once the burst of changes is over. */
function summaryLater() {
  clearTimeout(summaryTimer);
  summaryTimer = setTimeout(() => loadSummary(), 800);
}

export async function reloadRecord(resource, id) {
  const [key, path] = LISTS[resource];
  try {
    const record = await api(`/${path}/${id}`);
    update((s) => ({[key]: withRecord(s[key], record), changed: id}));
  } catch (error) {
    if (error.status === 404) update((s) => ({[key]: without(s[key], id)}));
  }
}

/** Take in a record this page just wrote (the server does not echo it to our socket). */
export function wrote(resource, record, rid, event) {
  const [key] = LISTS[resource];
  ownRequests.add(rid);
  update((s) => ({[key]: withRecord(s[key], record), changed: record.id}));
  addToFeed({...event, id: `local:${rid}`, request_id: rid, record_id: record.id,
             resource, data: record, actor_id: (getState().session.user || {}).id,
             at: new Date().toISOString()}, null);
  summaryLater();
}

export function newRequest(rid) {
  ownRequests.add(rid);
  return rid;
}

/** The record a response or a review task belongs to, as the page holds it (its name goes
 * in the sentence). */
function parentOf(event) {
  const data = event.data || {};
  const state = getState();
  if (event.resource === "rfi_response") return state.rfis.get(data.rfi_id) || null;
  if (event.resource === "review_task") return state.reviews.get(data.review_id) || null;
  return null;
}

function addToFeed(event, before) {
  const me = (getState().session.user || {}).id;
  const parts = sentence(event, {nameOf, me, before, parent: parentOf(event)});
  const entry = {id: event.id, at: event.at, parts, resource: event.resource,
                 recordId: event.record_id};
  update((s) => ({feed: [entry, ...s.feed].slice(0, FEED_LENGTH)}));
}

/** Whether an event tells the page something it does not show yet. A cursor may resume from
 * an older horizon (the server repeats events then), and the REST reads already hold what
 * happened before them: a record held at the event's version or newer is old news. */
export function isNews(event, state) {
  const version = event.version ?? (event.data && event.data.version);
  const list = LISTS[event.resource];
  if (list) {
    const held = state[list[0]].get(event.record_id);
    if (event.action === "deleted") return Boolean(held);
    return !held || version === null || version === undefined || held.version < version;
  }
  if (event.resource === "project_member" && event.action === "created") {
    return !state.members.has((event.data || {}).user_id);
  }
  if (event.resource === "project") {
    const held = state.projects.find((p) => p.id === event.record_id);
    return !held || !(held.version >= version);
  }
  return true;
}

/** One change event (live or from resync). True when it was news to this page. */
export function applyEvent(event) {
  if (!event || seen.has(event.id)) return false;
  seen.add(event.id);
  const state = getState();
  if (event.project_id && event.project_id !== state.projectId) return false;
  if (event.request_id && ownRequests.has(event.request_id)) return false;  // already shown
  if (!isNews(event, state)) return false;
  const list = LISTS[event.resource];
  const before = list ? state[list[0]].get(event.record_id) : null;
  addToFeed(event, before);
  if (list) mergeEvent(event, list[0]);
  if (event.resource === "project_member") reloadMembers();
  if (REGISTER_EVENTS.has(event.resource)) registerEvent(event);
  if (RFI_EVENTS.has(event.resource)) rfiEvent(event);
  if (REVIEW_EVENTS.has(event.resource)) reviewEvent(event);
  if (READINESS_EVENTS.has(event.resource)) procurementEvent(event);
  if (DIARY_EVENTS.has(event.resource)) diaryEvent(event);
  if (SNAG_EVENTS.has(event.resource)) snagEvent(event);
  if (list || event.resource === "scope_item" || event.resource === "project") summaryLater();
  return true;
}

function mergeEvent(event, key) {
  if (event.action === "deleted") {
    update((s) => ({[key]: without(s[key], event.record_id),
                    selected: dropSelection(s.selected, event.record_id)}));
    return;
  }
  if (event.data) {
    update((s) => ({[key]: withRecord(s[key], {...event.data, id: event.record_id}),
                    changed: event.record_id}));
  }
  if (REREAD.has(event.resource)) reloadRecord(event.resource, event.record_id);
}

function dropSelection(selected, id) {
  const copy = {...selected};
  for (const kind of Object.keys(copy)) if (copy[kind] === id) copy[kind] = null;
  return copy;
}

async function reloadMembers() {
  const projectId = getState().projectId;
  try {
    const members = await fetchAll(`/projects/${projectId}/members`);
    if (getState().projectId !== projectId) return;
    update({members: new Map(members.map((m) => [m.user_id, {...m.user, project_role: m.role}]))});
  } catch {
    // Keep the names we have; the next reload tries again.
  }
}
