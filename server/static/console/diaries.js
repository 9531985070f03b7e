// The day's site diary of the open project: today in the project's time zone (its own or the
// organisation's), the diary of that day if there is one, a new one, manpower and notes
// added to it, and completing it (the site manager), after which it is locked. Site diaries
// are for staff: a client's page reads none. Events: site_diary.*.
import {api, requestId} from "./api.js";
import {newRequest} from "./data.js";
import {getState, say, toast, update} from "./store.js";

export const DIARY_EVENTS = new Set(["site_diary"]);
export const WRITE_DIARY = new Set(["admin", "project_manager", "designer", "coordinator", "craftsman"]);
export const COMPLETE_DIARY = new Set(["admin", "project_manager", "coordinator"]);

/** YYYY-MM-DD in `zone` at `now` (the browser's own zone when the name is unknown). */
export function todayIn(zone, now = Date.now()) {
  const parts = {};
  try {
    for (const p of new Intl.DateTimeFormat("en-CA", {timeZone: zone || undefined, year: "numeric",
                                                      month: "2-digit", day: "2-digit"})
      .formatToParts(new Date(now))) parts[p.type] = p.value;
  } catch {
    return todayIn(null, now);
  }
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** The project's zone, then today's diary (null: none yet). */
export async function loadDiary(projectId) {
  if (getState().session.user.role === "client") return;   // staff only
  let zone = getState().diaryZone;
  if (!zone || getState().diaryProject !== projectId) {
    const cal = await api(`/calendar?project_id=${projectId}`);
    zone = cal.time_zone;
  }
  const day = todayIn(zone);
  const page = await api(`/site-diaries?project_id=${projectId}&day_from=${day}&day_to=${day}&limit=1`);
  if (getState().projectId !== projectId) return;
  update({diaryZone: zone, diaryProject: projectId, diaryDay: day, diary: page.data[0] || null,
          diaryRead: true});
}

function put(diary) {
  update((s) => {
    if (diary.day !== s.diaryDay) return {};
    if (s.diary && s.diary.id === diary.id && s.diary.version > diary.version) return {};
    return {diary};
  });
}

async function reread(diaryId) {
  try {
    put(await api(`/site-diaries/${diaryId}`));
  } catch (error) {
    if (error.status === 404) update((s) => (s.diary && s.diary.id === diaryId ? {diary: null} : {}));
  }
}

/** A change event of a diary: today's is read again (another day's is not shown). */
export function diaryEvent(event) {
  const data = event.data || {};
  const held = getState().diary;
  if (event.action === "deleted") {
    if (held && held.id === event.record_id) update({diary: null});
  } else if ((held && held.id === event.record_id) || data.day === getState().diaryDay) {
    reread(event.record_id);
  }
}

async function act(call, done, conflictOf = null) {
  say(null, "");
  const rid = newRequest(requestId());
  try {
    const diary = await call(rid);
    put(diary);
    if (done) toast(done);
    return diary;
  } catch (error) {
    if (error.status === 412 && conflictOf) {
      say("conflict", "Conflict: today's diary was changed by someone else meanwhile. "
          + "It has been reloaded: check it and try again.");
      await reread(conflictOf.id);
    } else {
      say("error", error.message);
      if (error.status === 409 && conflictOf) await reread(conflictOf.id);
      if (error.status === 409 && !conflictOf) await loadDiary(getState().projectId);
    }
    return null;
  }
}

/** Today's diary, with yesterday's manpower when `copy` is set. */
export function startDiary(copy) {
  const {projectId, diaryDay} = getState();
  return act((rid) => api("/site-diaries", {method: "POST", rid, body: {
    project_id: projectId, day: diaryDay, copy_manpower: copy}}), "Today's diary started");
}

function patch(diary, body, done) {
  return act((rid) => api(`/site-diaries/${diary.id}`, {method: "PATCH", rid, body,
                                                          version: diary.version}), done, diary);
}

export function addManpower(diary, entry) {
  return patch(diary, {manpower: [...(diary.manpower || []), entry]},
               `${entry.company} added to today's manpower`);
}

export function saveNotes(diary, notes) {
  return patch(diary, {notes: notes || null}, "Notes saved");
}

export function completeDiary(diary) {
  return act((rid) => api(`/site-diaries/${diary.id}/complete`, {method: "POST", rid,
                                                                 version: diary.version}),
             "Today's diary completed and locked", diary);
}
