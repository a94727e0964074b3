// REST calls to this node. The session (token, user id, name) lives in localStorage so a
// reload or a shared link keeps the identity. Failures throw ApiError with the server's
// {"error":{code,message}} so the UI can say what went wrong.

const KEY = "synctv.session";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The token's claims (name, guest, exp), read for display only: the server verifies it.
function claims(token) {
  try {
    const b64 = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

export function session() {
  let s = null;
  try {
    s = JSON.parse(localStorage.getItem(KEY)) || null;
  } catch {
    return null;
  }
  // An expired token would only be refused: start over at sign-in instead.
  if (s && s.exp && s.exp * 1000 < Date.now()) {
    saveSession(null);
    return null;
  }
  return s;
}

export function saveSession(s) {
  if (s) localStorage.setItem(KEY, JSON.stringify(s));
  else localStorage.removeItem(KEY);
}

export async function call(method, path, body, roomPassword) {
  const headers = {};
  const s = session();
  if (s) headers.Authorization = `Bearer ${s.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (roomPassword) headers["X-Room-Password"] = roomPassword;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "network", "The server cannot be reached.");
  }
  if (resp.status === 204) return null;
  const data = await resp.json().catch(() => null);
  if (!resp.ok) {
    const e = data && data.error;
    throw new ApiError(resp.status, e ? e.code : "http_" + resp.status,
      e ? e.message : `HTTP ${resp.status}`);
  }
  return data;
}

// Accounts. Each returns {user_id, token}; the name is kept for display.
async function identify(path, body, name) {
  const r = await call("POST", path, body);
  const c = claims(r.token);
  saveSession({ token: r.token, user_id: r.user_id, name: c.name || name, guest: !!c.guest, exp: c.exp });
  return session();
}
export const guest = (name) =>
  identify("/api/auth/guest", name ? { name } : {}, name || "guest");
export const login = (username, password) =>
  identify("/api/auth/login", { username, password }, username);
export const register = (username, password) =>
  identify("/api/auth/register", { username, password }, username);

export const listRooms = () => call("GET", "/api/rooms?per_page=100");
export const getRoom = (id) => call("GET", `/api/rooms/${encodeURIComponent(id)}`);
export const createRoom = (name, password) =>
  call("POST", "/api/rooms", password ? { name, password } : { name });
export const addMovie = (roomId, url, title, roomPassword) =>
  call("POST", `/api/rooms/${encodeURIComponent(roomId)}/movies`,
    title ? { url, title } : { url }, roomPassword);

// Administration (owners and admins; the server checks).
const roomPath = (id) => `/api/rooms/${encodeURIComponent(id)}`;
export const updateRoom = (id, patch) => call("PATCH", roomPath(id), patch);
export const deleteRoom = (id) => call("DELETE", roomPath(id));
export const updateMember = (id, userId, patch) =>
  call("PATCH", `${roomPath(id)}/members/${encodeURIComponent(userId)}`, patch);
export const removeMember = (id, userId, ban) =>
  call("DELETE", `${roomPath(id)}/members/${encodeURIComponent(userId)}${ban ? "?ban=true" : ""}`);
export const removeMovie = (id, movieId, roomPassword) =>
  call("DELETE", `${roomPath(id)}/movies/${encodeURIComponent(movieId)}`, undefined, roomPassword);
