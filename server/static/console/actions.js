// What a person does on the page: sign in and out, open a project, change records.
import {api, ApiError, forgetTokens, login, logout, planRefresh, requestId, storedSession} from "./api.js";
import {LISTS, loadProject, loadProjects, newRequest, openProject, reloadRecord, wrote} from "./data.js";
import {title} from "./sentences.js";
import {getState, initial, say, update} from "./store.js";
import {startLive, stopLive, switchRoom} from "./live.js";

export async function signIn(email, password) {
  update({busy: true, signinError: ""});
  try {
    await login(email, password);
    update({busy: false});
    await enter();
  } catch (error) {
    update({busy: false, signinError: error.message});
  }
}

export async function signOut() {
  stopLive();
  await logout();
  update(initial());
}

/** A session ended elsewhere (refresh refused): back to the sign-in form, saying why. */
export function sessionEnded() {
  stopLive();
  forgetTokens();
  update({...initial(), signinError: "Your session has ended. Sign in again."});
}

/** After sign-in or a reload with a stored session: projects, the chosen one, live updates. */
async function enter() {
  try {
    const projectId = await loadProjects();
    if (projectId) openProject(projectId);
    startLive();
    if (projectId) await loadProject(projectId);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) sessionEnded();
    else say("error", `Could not load your projects: ${error.message}`);
  }
}

export async function resume() {
  const session = storedSession();
  if (!session) return;
  update({session});
  planRefresh(session);
  await enter();
}

export async function chooseProject(projectId) {
  if (!projectId || projectId === getState().projectId) return;
  openProject(projectId);
  await Promise.all([switchRoom(projectId), loadProject(projectId)]);
}

export function select(kind, id) {
  update((s) => ({selected: {...s.selected, [kind]: s.selected[kind] === id ? null : id}}));
}

export const setFilter = (filter) => update({filter});

async function conflict(resource, record, error) {
  const what = title(resource, record) || "This record";
  const now = error.body.current_version ? ` (it is now at version ${error.body.current_version})` : "";
  say("conflict", `Conflict: “${what}” was changed by someone else meanwhile${now}. `
      + "It has been reloaded: check it and try again.");
  await reloadRecord(resource, record.id);
  update((s) => ({epoch: s.epoch + 1}));
}

/** PATCH one field set with the version the page shows; a 412 is a conflict, never a retry. */
async function write(resource, record, path, body, method, describe) {
  say(null, "");
  const rid = newRequest(requestId());
  try {
    const saved = await api(path, {method, body, version: record.version, rid});
    wrote(resource, saved, rid, describe(saved));
    return true;
  } catch (error) {
    if (error.status === 412) {
      await conflict(resource, record, error);
    } else {
      say("error", error.message);
      // Someone moved it on (409) or it is gone (404): show what is true now.
      if (error.status === 409 || error.status === 404) await reloadRecord(resource, record.id);
    }
    return false;
  }
}

export function saveTaskStatus(task, status) {
  return write("task", task, `/tasks/${task.id}`, {status}, "PATCH",
               () => ({action: "updated", changed_fields: ["status"]}));
}

/** A workflow step on a drawing or a material spec (the actions offered are the record's). */
export async function transition(resource, record, action, comment) {
  const path = `/${LISTS[resource][1]}/${record.id}/transitions`;
  const body = {action, comment: comment || null};
  return write(resource, record, path, body, "POST",
               () => ({action: "updated", changed_fields: ["status"]}));
}
