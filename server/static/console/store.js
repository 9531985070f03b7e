// The page's one state object. Views re-render when it changes; nothing else holds data.
import {useEffect, useState} from "../vendor/preact-hooks.mjs";

export function emptyProject() {
  return {
    members: new Map(), tasks: new Map(), drawings: new Map(), specs: new Map(),
    // The drawing register: drawings by id (with `revisions` once read), each revision's
    // file (revision id -> attachment or null), thumbnails (attachment id -> URL), uploads
    // under way (drawing id -> progress), the drawing whose revisions are open.
    register: new Map(), files: new Map(), thumbs: new Map(), uploads: new Map(), openDrawing: null,
    // RFIs (with their responses) and reviews (with their tasks and ball in court) by id,
    // and the one RFI / decided review opened.
    rfis: new Map(), openRfi: null, reviews: new Map(), openReview: null,
    // The procurement schedule (rows in the API's order) with the page's "at risk" filter,
    // scope readiness ({items, summary}), and today's site diary (null: none yet) with the
    // project's zone and today's date in it.
    procurement: [], riskOnly: false, readiness: {items: [], summary: null},
    diary: null, diaryDay: null, diaryZone: null, diaryProject: null, diaryRead: false,
    // Snags (punch items) by id, the one opened (from its pin or its row), and the drawing
    // revision whose sheet shows their pins.
    snags: new Map(), openSnag: null, snagSheet: null,
    reportJob: null,   // the id of the project's weekly report job this page asked for
    summary: null, summaryError: "", loadErrors: [], feed: [], presence: [], typing: "",
    selected: {task: null, drawing: null, spec: null}, changed: null,
    epoch: 0,   // bumped after a conflict: every open form starts again from the record
  };
}

export function initial(session = null) {
  return {
    session, signinError: "", busy: false, projects: [], projectId: null,
    connection: "offline", toast: null, message: null, filter: "all", now: Date.now(),
    jobs: new Map(),   // export jobs this page follows: id -> the job as last heard of
    ...emptyProject(),
  };
}

let state = initial();
const listeners = new Set();

export const getState = () => state;

/** Replace some top-level keys (a patch object, or a function of the state returning one). */
export function update(patch) {
  state = {...state, ...(typeof patch === "function" ? patch(state) : patch)};
  for (const listener of listeners) listener(state);
}

/** The current state in a component; re-renders it on every update. */
export function useStore() {
  const [current, setCurrent] = useState(state);
  useEffect(() => {
    listeners.add(setCurrent);
    setCurrent(state);          // an update between render and subscription is not lost
    return () => listeners.delete(setCurrent);
  }, []);
  return current;
}

/** A copy of `map` with `record` in it, unless the map already holds a newer version. */
export function withRecord(map, record) {
  const held = map.get(record.id);
  if (held && held.version > record.version) return map;
  return new Map(map).set(record.id, {...(held || {}), ...record});
}

export function without(map, id) {
  if (!map.has(id)) return map;
  const copy = new Map(map);
  copy.delete(id);
  return copy;
}

/** The records just read over REST, keeping any newer version a live event brought meanwhile. */
export function freshMap(held, records) {
  const map = new Map();
  for (const record of records) {
    const mine = held.get(record.id);
    map.set(record.id, mine && mine.version > record.version ? mine : record);
  }
  return map;
}

let toastTimer = null;

export function toast(text) {
  clearTimeout(toastTimer);
  update({toast: {text, at: Date.now()}});
  toastTimer = setTimeout(() => update({toast: null}), 6000);
}

export function say(kind, text) {
  update({message: text ? {kind, text} : null});
}
