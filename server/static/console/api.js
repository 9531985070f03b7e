// REST calls and the session's tokens. Tokens live in memory and in this tab's
// sessionStorage (a reload keeps you signed in; closing the tab does not).
import {getState, update} from "./store.js";

const KEY = "fpm.session";
const JSON_TYPE = "application/json";
let refreshTimer = null;
let refreshing = null;
let socketId = () => null;

export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `The server answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

/** Where writes find the page's own socket id (sent as X-Socket-ID: no echo of our change). */
export function setSocketIdSource(source) {
  socketId = source;
}

/** A fresh request id: our own changes are recognised when `resync` brings them back. */
export function requestId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `console-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function storedSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(KEY) || "null");
    return session && session.access && session.refresh && session.user ? session : null;
  } catch {
    return null;
  }
}

/** Keep a token pair (login or refresh answer) and plan the next refresh before expiry. */
export function keepTokens(tokens, user = null) {
  const held = getState().session;
  const session = {access: tokens.access_token, refresh: tokens.refresh_token,
                   expiresAt: Date.now() + tokens.expires_in * 1000,
                   user: user || tokens.user || (held && held.user)};
  sessionStorage.setItem(KEY, JSON.stringify(session));
  update({session});
  planRefresh(session);
  return session;
}

export function planRefresh(session) {
  clearTimeout(refreshTimer);
  const left = session.expiresAt - Date.now();
  // Well before expiry (a fifth of the lifetime or 30 s ahead), but never later than
  // halfway, and never in a tight loop when the lifetime is short or already over.
  const margin = Math.min(Math.max(30_000, left / 5), left / 2);
  const wait = Math.max(1_000, left - margin);
  refreshTimer = setTimeout(refreshTokens, wait);
}

export function forgetTokens() {
  clearTimeout(refreshTimer);
  sessionStorage.removeItem(KEY);
}

/** One refresh at a time (a spent refresh token must not be sent twice). False when the
 * session is over; a network failure keeps the session and tries again shortly. */
export function refreshTokens() {
  if (!refreshing) refreshing = doRefresh().finally(() => { refreshing = null; });
  return refreshing;
}

async function doRefresh() {
  const session = getState().session;
  if (!session) return false;
  let response;
  try {
    response = await fetch("/api/v1/auth/refresh", {
      method: "POST", headers: {"Content-Type": JSON_TYPE, Accept: JSON_TYPE},
      body: JSON.stringify({refresh_token: session.refresh})});
  } catch {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refreshTokens, 10_000);
    return false;
  }
  if (getState().session !== session) return Boolean(getState().session);  // signed out meanwhile
  if (!response.ok) {
    if (response.status >= 500 || response.status === 429) {
      refreshTimer = setTimeout(refreshTokens, 15_000);
      return false;
    }
    window.dispatchEvent(new CustomEvent("fpm:session-ended"));
    return false;
  }
  keepTokens(await response.json());
  return true;
}

/** fetch, with a network failure said in words (the browser's own is "Failed to fetch"). */
async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch {
    throw new ApiError(0, {detail: "Could not reach the server; check the connection and try again."});
  }
}

/** One API call. `version` sends If-Match; writes name our socket and carry a request id. */
export async function api(path, {method = "GET", body, version, rid} = {}, retried = false) {
  const session = getState().session;
  const headers = {Accept: JSON_TYPE};
  if (body !== undefined) headers["Content-Type"] = JSON_TYPE;
  if (session) headers.Authorization = `Bearer ${session.access}`;
  if (version !== undefined) headers["If-Match"] = `"${version}"`;
  if (rid) headers["X-Request-ID"] = rid;
  const sid = method === "GET" ? null : socketId();
  if (sid) headers["X-Socket-ID"] = sid;
  const response = await send(`/api/v1${path}`, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  if (response.status === 401 && session && !retried && await refreshTokens()) {
    return api(path, {method, body, version, rid}, true);
  }
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (!response.ok) {
    const error = new ApiError(response.status, data);
    error.retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw error;
  }
  return data;
}

/** A file from the API (a list's export, a job's download): the response as it came, a
 * refused one thrown as an ApiError (problem+json). Sent with the bearer token, so the
 * page saves it itself (a link could not send the header). */
export async function fetchFile(path, accept = "*/*", retried = false) {
  const session = getState().session;
  const headers = {Accept: accept};
  if (session) headers.Authorization = `Bearer ${session.access}`;
  const response = await send(`/api/v1${path}`, {headers});
  if (response.status === 401 && session && !retried && await refreshTokens()) {
    return fetchFile(path, accept, true);
  }
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    const error = new ApiError(response.status, body);
    error.retryAfter = Number(response.headers.get("Retry-After")) || null;
    throw error;
  }
  return response;
}

/** Every page of a list (up to `max` records), following next_cursor. */
export async function fetchAll(path, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const joiner = path.includes("?") ? "&" : "?";
    const after = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
    const page = await api(`${path}${joiner}limit=200${after}`);
    items.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

export async function login(email, password) {
  const response = await send("/api/v1/auth/login", {
    method: "POST", headers: {"Content-Type": JSON_TYPE, Accept: JSON_TYPE},
    body: JSON.stringify({email, password})});
  const body = await response.json().catch(() => null);
  if (response.status === 429) throw new ApiError(429, {detail: "Too many attempts; wait a moment and try again."});
  if (response.status === 401) throw new ApiError(401, {detail: "That e-mail and password do not match an account."});
  if (!response.ok) throw new ApiError(response.status, body);
  return keepTokens(body, body.user);
}

/** End the session on the server (its tokens stop working everywhere); forget it here anyway. */
export async function logout() {
  if (getState().session) {
    try {
      await api("/auth/logout", {method: "POST"});   // an expired access token is refreshed first
    } catch {
      // Offline or already ended: forgotten here, the tokens expire on their own.
    }
  }
  forgetTokens();
}
