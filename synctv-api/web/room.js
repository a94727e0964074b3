// One room's WebSocket: connects, keeps the room state from welcome + events, pings to
// measure the clock, and reconnects with backoff, resuming with since/epoch so no event is
// missed or applied twice. It knows nothing about the page: the UI passes callbacks.

import { Clock } from "./sync.js";

// Pings measure the clock (sync.js) and carry the drift report; a burst at connect gives the
// clock several samples before the first correction matters.
const PING_EVERY_MS = 2000;
const PING_BURST = 5;
const PING_BURST_GAP_MS = 150;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30000;
// Close codes after which reconnecting cannot help (see docs/protocol.md, Close codes).
const FINAL_CLOSES = { 4002: "The room was deleted.", 4007: "You were removed from the room." };

export class RoomConnection {
  // handlers: { welcome(state), event(kind, data, state), error(frame), status(text, isError),
  //   closed(reason), refused(), drift() -> ms or null (reported on ping) }
  constructor(roomId, token, password, handlers) {
    this.roomId = roomId;
    this.token = token;
    this.password = password;
    this.h = handlers;
    this.clock = new Clock();
    this.state = null; // the welcome's room, kept current by events
    this.seq = null;
    this.epoch = null;
    this.nextRef = 1;
    this.backoff = BACKOFF_MIN_MS;
    this.retryAfter = null; // set by a shutdown frame
    this.stopped = false;
    this.connect();
  }

  url() {
    const q = new URLSearchParams({ token: this.token });
    if (this.password) q.set("password", this.password);
    if (this.seq !== null && this.epoch) {
      q.set("since", String(this.seq));
      q.set("epoch", this.epoch);
    }
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    return `${proto}//${location.host}/api/rooms/${encodeURIComponent(this.roomId)}/ws?${q}`;
  }

  connect() {
    const ws = new WebSocket(this.url());
    this.ws = ws;
    let welcomed = false;
    ws.onmessage = (m) => {
      let f;
      try { f = JSON.parse(m.data); } catch { return; }
      if (f.type === "welcome") welcomed = true;
      this.frame(f);
    };
    ws.onclose = (e) => {
      clearInterval(this.pinger);
      if (this.ws !== ws || this.stopped) return;
      if (FINAL_CLOSES[e.code]) {
        this.stopped = true;
        this.h.closed(FINAL_CLOSES[e.code]);
        return;
      }
      // A refusal before the upgrade (wrong password, banned, room gone) reaches the
      // browser only as a failed connection; the UI asks the REST API why.
      if (!welcomed) this.h.refused && this.h.refused();
      let delay = this.retryAfter ?? this.backoff;
      this.retryAfter = null;
      if (!welcomed) this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
      // Jitter spreads the reconnects of many clients of one failed node.
      delay = Math.round(delay * (0.75 + Math.random() * 0.5));
      this.h.status(`Disconnected; reconnecting in ${Math.ceil(delay / 1000)} s…`, true);
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  frame(f) {
    switch (f.type) {
      case "welcome":
        this.backoff = BACKOFF_MIN_MS;
        this.clock.seed(f.server_time_ms);
        this.epoch = f.epoch;
        this.nodeId = f.node_id; // which node serves us (shown to tests and the curious)
        // Resumed: the events after our seq follow (up to f.seq), so keep our seq and state
        // and let them apply. Anything else is a fresh start from the snapshot at f.seq.
        if (!f.resumed || !this.state) {
          this.state = f.room;
          this.seq = f.seq;
        }
        clearInterval(this.pinger);
        for (let i = 0; i < PING_BURST; i++) setTimeout(() => this.ping(), i * PING_BURST_GAP_MS);
        this.pinger = setInterval(() => this.ping(), PING_EVERY_MS);
        this.h.welcome(this.state, f.resumed);
        break;
      case "event":
        if (this.seq !== null && f.seq <= this.seq) return; // already applied
        this.seq = f.seq;
        this.apply(f.kind, f.data);
        this.h.event(f.kind, f.data, this.state);
        break;
      case "pong":
        this.clock.pong(f.client_time_ms, f.server_time_ms);
        break;
      case "error":
        this.h.error(f);
        break;
      case "shutdown": {
        // The node is draining: after its delay, move on (the load balancer picks a node
        // that takes us) without waiting for the drain to end; the resume covers the gap.
        // If the node closes first, onclose waits out the same delay.
        this.retryAfter = f.reconnect_after_ms;
        const old = this.ws;
        clearTimeout(this.timer);
        this.timer = setTimeout(() => {
          if (this.stopped || this.ws !== old) return;
          this.ws = null; // its close is ours: no backoff, no refusal to explain
          this.retryAfter = null;
          clearInterval(this.pinger);
          old.close(1000);
          this.connect();
        }, f.reconnect_after_ms);
        this.h.status("The server is restarting; you will be reconnected.", false);
        break;
      }
      default: // ack and anything newer: nothing to do
    }
  }

  // Keep the snapshot current so a resumed socket needs no fresh welcome.
  apply(kind, d) {
    const s = this.state;
    if (!s) return;
    switch (kind) {
      case "playback": {
        const { user_id: _by, ...pb } = d;
        if (!s.playback || pb.version > s.playback.version) s.playback = pb;
        break;
      }
      case "member_joined":
        s.members = s.members.filter((m) => m.user_id !== d.user_id).concat([{ ...d, connections: 1 }]);
        break;
      case "member_left":
        s.members = s.members.filter((m) => m.user_id !== d.user_id);
        break;
      case "member_updated":
        s.members = s.members.map((m) => (m.user_id === d.user_id ? { ...m, role: d.role } : m));
        break;
      case "chat":
        s.recent_chat.push({ ...d, ts_ms: Date.now() });
        if (s.recent_chat.length > 200) s.recent_chat.shift();
        break;
      case "movie_added":
        s.playlist.push(d.movie);
        break;
      case "movie_removed":
        s.playlist = s.playlist.filter((m) => m.movie_id !== d.movie_id);
        break;
      case "room_updated": {
        // The room object carries playback too; never let it roll a newer one back.
        const pb = s.playback;
        Object.assign(s, d.room);
        if (pb && (!s.playback || pb.version > s.playback.version)) s.playback = pb;
        break;
      }
      default:
    }
  }

  send(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
      this.h.status("Not connected yet; try again in a moment.", true);
      return null;
    }
    const ref = this.nextRef++;
    this.ws.send(JSON.stringify({ ...frame, ref }));
    return ref;
  }

  ping() {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      const f = { type: "ping", client_time_ms: Date.now() };
      const drift = this.h.drift ? this.h.drift() : null;
      if (drift !== null) f.drift_ms = drift;
      this.ws.send(JSON.stringify(f));
    }
  }

  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    if (this.ws) this.ws.close(1000);
  }
}
