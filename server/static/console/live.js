// The Socket.IO side: connection state, the project room, change events, resync after a
// reconnect (with the last cursor), presence and typing.
import {refreshTokens, setSocketIdSource} from "./api.js";
import {applyEvent, loadProject, loadSummary} from "./data.js";
import {exportProgress} from "./exports.js";
import {fullName, plural} from "./labels.js";
import {getState, say, toast, update} from "./store.js";

const ACK_TIMEOUT = 10_000;
let socket = null;
let cursor = null;          // the newest change this page holds, for `resync`
let room = null;            // the project the socket is subscribed to

export function startLive() {
  stopLive();
  // The socket.io client is a classic script (vendor/socket.io.min.js) loaded before us.
  socket = window.io({auth: (cb) => cb({token: (getState().session || {}).access}),
                      transports: ["websocket", "polling"]});
  setSocketIdSource(() => (socket && socket.connected ? socket.id : null));
  update({connection: navigator.onLine === false ? "offline" : "connecting"});
  socket.on("connect", () => joined().catch((error) => failed(error)));
  socket.on("disconnect", (reason) => {
    update({connection: reason === "io client disconnect" ? "offline" : "reconnecting", presence: []});
  });
  socket.on("connect_error", async (error) => {
    update({connection: navigator.onLine === false ? "offline" : "reconnecting"});
    // A refused handshake is not retried by the client: retry once the token is fresh.
    if (error.data && error.data.code === "unauthorized" && await refreshTokens() && socket) {
      socket.connect();
    }
  });
  socket.on("presence", (data) => {
    if (data && data.project_id === getState().projectId) update({presence: data.users || []});
  });
  socket.on("typing", (data) => {
    if (!data || data.project_id !== getState().projectId) return;
    const who = fullName(data.user) || "Someone";
    update({typing: data.active ? `${who} is writing a comment…` : ""});
  });
  socket.on("evicted", (data) => {
    if (data && data.project_id === getState().projectId) {
      say("error", "You no longer have access to this project.");
    }
  });
  socket.on("import.completed", () => reload());
  socket.on("export.progress", (data) => exportProgress(data));   // to our user room only
  socket.on("resync_required", () => catchUp().catch((error) => failed(error)));
  socket.onAny((name, payload) => {
    if (name.includes(".") && payload && typeof payload === "object" && payload.resource) {
      if (payload.cursor && payload.project_id === room) cursor = payload.cursor;
      applyEvent(payload);
    }
  });
}

export function stopLive() {
  if (socket) {
    socket.removeAllListeners();
    socket.offAny();
    socket.disconnect();
  }
  socket = null;
  cursor = null;
  room = null;
  update({connection: "offline"});
}

function failed(error) {
  update({connection: socket && socket.connected ? "connected" : "reconnecting"});
  say("error", `Live updates: ${error.message}`);
}

async function reload() {
  const projectId = getState().projectId;
  if (projectId) await loadProject(projectId);
}

/** On every (re)connect: join the project room, then catch up on what was missed. */
async function joined() {
  const projectId = getState().projectId;
  if (!projectId) {
    update({connection: "connected"});
    return;
  }
  const ack = await socket.timeout(ACK_TIMEOUT).emitWithAck("subscribe", {project_id: projectId});
  if (!ack || !ack.ok) {
    update({connection: "connected"});
    say("error", "Live updates are not available for this project.");
    return;
  }
  const resuming = room === projectId && cursor !== null;
  room = projectId;
  if (!resuming) {
    cursor = ack.cursor;
    update({connection: "connected"});
    return;
  }
  await catchUp();
}

/** `resync` from the last cursor; a gap reloads the lists over REST. */
async function catchUp() {
  const projectId = room;
  if (!projectId || cursor === null) return;
  const ack = await socket.timeout(ACK_TIMEOUT * 2).emitWithAck(
    "resync", {project_id: projectId, cursor});
  update({connection: "connected"});
  if (!ack || !ack.ok) return;
  if (ack.gap) {
    if (ack.cursor) cursor = ack.cursor;   // the horizon: the reload below covers what was before it
    await reload();
    toast("Back online — resynced: too much was missed, so the lists were reloaded");
    return;
  }
  const fresh = (ack.events || []).filter((event) => applyEvent(event)).length;
  if (ack.cursor) cursor = ack.cursor;
  loadSummary();   // a refresh may have failed while the server was away
  toast(`Back online — resynced ${plural(fresh, "change")}`);
}

/** Follow another project: leave the old room, join the new one from its head. */
export async function switchRoom(projectId) {
  if (!socket) return;
  if (room && socket.connected) {
    await socket.timeout(ACK_TIMEOUT).emitWithAck("unsubscribe", {project_id: room}).catch(() => {});
  }
  room = null;
  cursor = null;
  if (socket.connected) await joined().catch((error) => failed(error));
}

export function typing(record, active) {
  const projectId = getState().projectId;
  if (socket && socket.connected && projectId && record) {
    socket.emit("typing", {project_id: projectId, resource: "shop_drawing",
                           record_id: record.id, field: "comment", active});
  }
}

window.addEventListener("offline", () => { if (socket) update({connection: "offline"}); });
window.addEventListener("online", () => {
  if (socket && !socket.connected) update({connection: "reconnecting"});
});
