// The page: views (sign in, room list, room) chosen by the URL hash, so a room can be
// shared as /#/room/<id>. All text from the server is inserted with textContent, never as
// HTML: names, titles and chat are other people's input.

import * as api from "./api.js";
import { RoomConnection } from "./room.js";
import { Player } from "./player.js";
import { Admin } from "./admin.js";

const $ = (id) => document.getElementById(id);
const video = $("video");

let conn = null; // the open RoomConnection, if any
let current = null; // {room, password}

function say(text, isError = false) {
  $("status").textContent = text;
  $("status").classList.toggle("error", isError);
}

function describe(err) {
  if (err instanceof api.ApiError) return err.message || err.code;
  return String(err && err.message ? err.message : err);
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function show(view) {
  for (const v of ["auth", "rooms", "room"]) $("view-" + v).hidden = v !== view;
  const s = api.session();
  $("whoami").textContent = s ? `Signed in as ${s.name}${s.guest ? " (guest)" : ""}` : "";
  $("logout").hidden = !s;
}

// ---- routing ----

async function route() {
  const m = location.hash.match(/^#\/room\/([^/]+)$/);
  if (!api.session()) {
    leaveRoom();
    show("auth");
    return;
  }
  if (m) await enterRoom(decodeURIComponent(m[1]));
  else {
    leaveRoom();
    show("rooms");
    await loadRooms();
  }
}

// ---- sign in ----

$("guest-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await api.guest($("guest-name").value.trim());
    say("");
    await route();
  } catch (err) {
    say(describe(err), true);
  }
});

$("account-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const mode = e.submitter && e.submitter.value === "register" ? "register" : "login";
  try {
    await api[mode]($("acct-user").value, $("acct-pass").value);
    $("acct-pass").value = "";
    say(mode === "register" ? "Account created." : "");
    await route();
  } catch (err) {
    say(describe(err), true);
  }
});

$("logout").addEventListener("click", () => {
  api.saveSession(null);
  location.hash = "#/";
  route();
});

// ---- room list ----

async function loadRooms() {
  const list = $("room-list");
  try {
    const page = await api.listRooms();
    list.replaceChildren();
    if (page.items.length === 0) list.append(el("li", "No rooms yet: create one."));
    for (const r of page.items) {
      const li = el("li");
      const a = el("a", r.name);
      a.href = `#/room/${encodeURIComponent(r.room_id)}`;
      li.append(a, el("span", ` ${r.member_count} online${r.has_password ? ", password" : ""}`, "role"));
      list.append(li);
    }
  } catch (err) {
    say(describe(err), true);
  }
}

$("refresh-rooms").addEventListener("click", loadRooms);

$("create-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const password = $("room-pass").value;
  try {
    const room = await api.createRoom($("room-name").value.trim(), password);
    $("room-name").value = "";
    $("room-pass").value = "";
    // The owner needs no password to enter; keep it anyway for the REST calls.
    current = { room, password };
    location.hash = `#/room/${encodeURIComponent(room.room_id)}`;
  } catch (err) {
    say(describe(err), true);
  }
});

// ---- room ----

async function enterRoom(id) {
  if (conn && conn.roomId === id) return;
  leaveRoom();
  let room;
  try {
    room = await api.getRoom(id);
  } catch (err) {
    show("rooms");
    say(describe(err), true);
    return;
  }
  const password = current && current.room.room_id === id ? current.password : "";
  current = { room, password };
  show("room");
  $("room-title").textContent = room.name;
  $("share-link").value = `${location.origin}/#/room/${encodeURIComponent(id)}`;
  if (room.has_password && !password && room.owner_id !== api.session().user_id) askPassword();
  else connect(room, password);
}

// Password rooms: ask in the page (a labelled form, not a prompt()), then connect.
function askPassword() {
  $("room-pass-form").hidden = false;
  $("join-pass").value = "";
  $("join-pass").focus();
}

$("room-pass-form").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!current) return;
  current.password = $("join-pass").value;
  $("room-pass-form").hidden = true;
  connect(current.room, current.password);
});

function connect(room, password) {
  const id = room.room_id;
  const s = api.session();
  say("Connecting…");
  conn = new RoomConnection(id, s.token, password, {
    welcome: (state, resumed) => {
      say(resumed ? "Reconnected." : "Connected.");
      renderAll(state);
    },
    event: (kind, data, state) => onEvent(kind, data, state),
    error: (f) => {
      say(f.message || f.code, true);
      // A refused command leaves the player where the user put it: put it back.
      player.refused();
    },
    status: say,
    closed: (reason) => {
      // Removed, banned or the room is gone: back to the list, saying why.
      leaveRoom();
      location.hash = "#/";
      say(reason, true);
    },
    refused: () => explainRefusal(id, password),
    drift: () => player.drift(),
  });
}

// The browser hides why a socket upgrade was refused; a REST call to the same room with the
// same credentials gets the server's words.
async function explainRefusal(id, password) {
  try {
    await api.call("GET", `/api/rooms/${encodeURIComponent(id)}/members`, undefined, password);
  } catch (err) {
    say(describe(err), true);
    if (err.code === "wrong_room_password") {
      leaveRoom();
      askPassword();
      return;
    }
    if (err.code === "banned" || err.status === 404 ||
        err.status === 401) {
      // Retrying cannot help: stop, and go back to the list (or to sign-in).
      leaveRoom();
      if (err.status === 401) api.saveSession(null);
      if (location.hash === "#/") route();
      else location.hash = "#/";
    }
  }
}

function leaveRoom() {
  if (conn) conn.close();
  conn = null;
  $("room-pass-form").hidden = true;
  $("admin").hidden = true;
  admin.dirty = false;
  player.follow(null, null);
}

function onEvent(kind, data, state) {
  switch (kind) {
    case "playback":
      applyPlayback(state);
      renderPlaylist(state);
      break;
    case "chat":
      appendChat(data);
      break;
    case "member_joined": case "member_left":
      renderMembers(state);
      break;
    case "member_updated": // perhaps our own role: what we may do changes
      admin.render(state);
      renderMembers(state);
      renderPlaylist(state);
      break;
    case "movie_added": case "movie_removed":
      renderPlaylist(state);
      break;
    case "room_updated":
      $("room-title").textContent = state.name;
      admin.render(state);
      renderPlaylist(state);
      break;
    case "room_deleted":
      say("The room was deleted.", true);
      break;
    default:
  }
}

function renderAll(state) {
  $("room-title").textContent = state.name;
  admin.render(state);
  renderMembers(state);
  renderPlaylist(state);
  $("chat").replaceChildren();
  for (const m of state.recent_chat) appendChat(m);
  applyPlayback(state);
}

function renderMembers(state) {
  const ul = $("members");
  ul.replaceChildren();
  for (const m of state.members) {
    const li = el("li", m.username);
    const role = m.user_id === state.owner_id ? "owner" : m.role;
    const tabs = m.connections > 1 ? `, ${m.connections} tabs` : "";
    li.append(el("span", ` (${role}${tabs})`, "role"));
    admin.memberControls(li, m, state);
    ul.append(li);
  }
}

function renderPlaylist(state) {
  const ol = $("playlist");
  ol.replaceChildren();
  const now = state.playback && state.playback.movie_id;
  for (const m of state.playlist) {
    const li = el("li");
    const b = el("button", m.movie_id === now ? `▶ ${m.title}` : m.title);
    b.type = "button";
    if (m.movie_id === now) { b.classList.add("current"); b.setAttribute("aria-current", "true"); }
    b.setAttribute("aria-label", `Play ${m.title} for everyone`);
    b.addEventListener("click", () => conn && conn.send({ type: "playback", action: "set_movie", movie_id: m.movie_id }));
    li.append(b);
    admin.movieControls(li, m, state);
    ol.append(li);
  }
  if (state.playlist.length === 0) ol.append(el("li", "The playlist is empty: add a movie by URL."));
}

function appendChat(m) {
  const li = el("li");
  li.append(el("span", m.username + ": ", "who"), el("span", m.text));
  $("chat").append(li);
  li.scrollIntoView({ block: "nearest" });
}

// Owner and admin controls (admin.js).
const admin = new Admin({
  room: () => ({ room_id: current.room.room_id, password: current.password }),
  setPassword: (p) => { if (current) current.password = p; },
  say,
  describe,
});

// ---- playback ----

// The player follows the room (player.js); our own buttons send commands directly.
const player = new Player(video, {
  get clock() { return conn ? conn.clock : null; },
  command: (action, extra) => !!conn && conn.send({ type: "playback", action, ...extra }) !== null,
  say,
  buffering: (b) => { $("buffering").hidden = !b; },
});
// For tests and the curious: the player's measurements, from the console.
window.synctv = { player, connection: () => conn };

function applyPlayback(state) {
  const pb = state.playback;
  const movie = pb && state.playlist.find((m) => m.movie_id === pb.movie_id);
  player.follow(movie ? pb : null, movie ? movie.url : null);
  if (pb) $("rate").value = String(pb.rate);
  $("btn-play").textContent = movie && pb.playing ? "Pause" : "Play";
}

// How far from the room this player is, in words, once a second.
setInterval(() => {
  const d = player.drift();
  $("sync-state").textContent = d === null ? "" :
    Math.abs(d) < 100 ? `In sync (${Math.round(d)} ms)` : `Catching up (${Math.round(d)} ms)`;
}, 1000);

$("btn-play").addEventListener("click", () => {
  const pb = conn && conn.state && conn.state.playback;
  if (!pb) return;
  // The room plays but this browser refused to autoplay: join in locally, pause nobody.
  if (pb.playing && video.paused) { player.join(); return; }
  conn.send({ type: "playback", action: pb.playing ? "pause" : "play",
    position_ms: Math.round(video.currentTime * 1000) });
});

$("rate").addEventListener("change", () => {
  conn && conn.send({ type: "playback", action: "rate", rate: Number($("rate").value) });
});

// ---- playlist and chat ----

$("movie-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  if (!current) return;
  try {
    const m = await api.addMovie(current.room.room_id, $("movie-url").value.trim(),
      $("movie-title").value.trim(), current.password);
    $("movie-url").value = "";
    $("movie-title").value = "";
    say(`Added “${m.title}”.`);
  } catch (err) {
    say(describe(err), true);
  }
});

$("chat-form").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = $("chat-text").value;
  if (!text.trim() || !conn) return;
  if (conn.send({ type: "chat", text }) !== null) $("chat-text").value = "";
});

window.addEventListener("hashchange", route);
route();
