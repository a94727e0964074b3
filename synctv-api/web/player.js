// One <video> that follows the room's playback state and turns the user's own actions on it
// into room commands. Two rules keep several members from fighting:
// - Only events the user caused become commands. Every change this module makes to the
//   video (src, play, pause, seek, rate) is marked as ours first, and the event it fires
//   is recognised and dropped, so a client following the room never echoes it back.
// - After the user acts, corrections wait until the room answers (the event with the
//   user's change, or an error), so the player is not dragged back to the old state in
//   between; while the user is seeking or the video is buffering nothing is corrected.
// Drift is corrected by sync.js's `correction`: playbackRate nudges for small drift, a seek
// for large drift.

import { correction, expectedPositionMs } from "./sync.js";

const TICK_MS = 200;
// How long the marks of our own changes, and a sent command, stay expected.
const OURS_MS = 1500;
const PENDING_MS = 2000;
const HAVE_FUTURE_DATA = 3;
// A seek of ours that lands further off than this is repeated with the learned lead.
const RESEEK_FROM_MS = 60;
// A user's seek that never reports `seeked` stops holding corrections back after this long.
const USER_SEEK_MAX_MS = 5000;
// currentTime reads back what was set, give or take rounding.
const SAME_TIME_S = 0.002;

export class Player {
  // hooks: { clock, command(action, extra), say(text, isError), buffering(bool) }
  constructor(video, hooks) {
    this.v = video;
    this.h = hooks;
    this.pb = null; // the room's playback, or null when no movie plays
    this.url = null;
    this.ours = { play: 0, pause: 0, rate: null }; // seeks: ourSeekTo
    // Where our last seek went (seconds). A seek is recognised as ours by its target, not by
    // a flag consumed at the next `seeking`: a seek made before the metadata has loaded
    // fires no `seeking` until the metadata arrives (if at all), and several seeks in a row
    // fire their events after the last one, all reporting its target.
    this.ourSeekTo = null;
    this.pending = 0; // until when a user command awaits the room's answer
    this.userSeekAt = 0; // when the user's seek in progress began (0: none)
    this.pendingVersion = -1;
    this.nudgingSince = null;
    this.buffering = false;
    this.blocked = false; // the browser refused to autoplay
    this.lastDrift = null;
    this.seekLead = 0; // ms a seek falls behind while playing, learned
    this.afterSeek = false; // our seek finished; the next measurement checks it
    for (const t of ["play", "pause", "seeking", "seeked", "ratechange", "waiting", "playing", "canplay"]) {
      video.addEventListener(t, () => this.on(t));
    }
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  // ---- room -> player ----

  // The room's state changed (welcome, a playback event, a refused command).
  follow(pb, url) {
    if (!pb || pb.version > this.pendingVersion) this.pending = 0;
    this.pb = url ? pb : null;
    if (!url) {
      if (this.url) { this.url = null; this.mark("pause"); this.v.removeAttribute("src"); this.v.load(); }
      return;
    }
    if (this.url !== url) {
      this.url = url;
      this.userSeekAt = 0; // a new source ends any seek
      if (!this.v.paused) this.mark("pause");
      this.v.src = url;
      this.seekTo(expectedPositionMs(pb, this.h.clock));
    }
    this.apply(true);
  }

  // Bring play/pause, rate and position in line with the room. `changed`: the room's state
  // just changed, so a position off by more than a nudge is sought at once.
  apply(changed) {
    const pb = this.pb;
    const v = this.v;
    if (!pb || Date.now() < this.pending || this.userSeeking()) return;
    if (!pb.playing) {
      this.stopNudge();
      if (!v.paused) { this.mark("pause"); v.pause(); }
      if (Math.abs(v.currentTime * 1000 - pb.position_ms) > 40 && !v.seeking) this.seekTo(pb.position_ms);
      this.lastDrift = null;
      return;
    }
    if (v.paused && !this.blocked) {
      this.mark("play");
      v.play().then(() => { this.blocked = false; }, (e) => {
        if (e && e.name === "NotAllowedError") {
          this.blocked = true;
          this.h.say("Your browser blocked autoplay: press Play to join in.", true);
        }
      });
    }
    if (v.seeking || this.buffering || v.readyState < HAVE_FUTURE_DATA || v.paused) {
      this.lastDrift = null;
      if (changed && !v.seeking) this.seekTo(expectedPositionMs(pb, this.h.clock) + this.seekLead);
      return;
    }
    const want = expectedPositionMs(pb, this.h.clock);
    if (v.duration && want >= v.duration * 1000) { this.lastDrift = null; return; }
    const drift = v.currentTime * 1000 - want;
    this.lastDrift = drift;
    if (this.afterSeek) {
      // The first measurement after our own seek says how far a seek falls behind (the
      // time it takes to seek and start again): aim that much further next time, and if
      // this one fell well short, seek again now rather than nudge for seconds.
      this.afterSeek = false;
      this.seekLead = Math.max(0, Math.min(2000, this.seekLead - drift));
      if (Math.abs(drift) > RESEEK_FROM_MS) {
        this.stopNudge();
        this.seekTo(want + this.seekLead);
        return;
      }
    }
    const c = correction(drift, pb.rate, this.nudgingSince, Date.now());
    if (c.seek) {
      this.stopNudge();
      this.seekTo(want + this.seekLead);
      return;
    }
    if (c.nudging && this.nudgingSince === null) this.nudgingSince = Date.now();
    if (!c.nudging) this.nudgingSince = null;
    this.setRate(c.rate);
  }

  tick() {
    if (this.pb) this.apply(false);
  }

  // The room refused the user's command: follow the room's state again at once.
  refused() {
    this.pending = 0;
    this.apply(true);
  }

  // The user pressed our Play button while the room plays but autoplay was refused.
  join() {
    this.blocked = false;
    this.apply(true);
  }

  // The measured drift for the ping report, or null when there is nothing to measure.
  drift() {
    return this.lastDrift === null ? null : Math.round(this.lastDrift * 10) / 10;
  }

  stop() {
    clearInterval(this.timer);
    this.follow(null, null);
  }

  seekTo(ms) {
    const t = Math.max(0, ms) / 1000;
    this.ourSeekTo = t;
    this.v.currentTime = t;
  }

  setRate(r) {
    if (Math.abs(this.v.playbackRate - r) < 1e-6) return;
    this.ours.rate = r;
    this.v.playbackRate = r;
  }

  stopNudge() {
    this.nudgingSince = null;
    if (this.pb) this.setRate(this.pb.rate);
  }

  mark(what) {
    this.ours[what] = Date.now() + OURS_MS;
  }

  isOurs(what) {
    const until = this.ours[what];
    this.ours[what] = 0;
    return Date.now() < until;
  }

  // ---- player -> room ----

  on(type) {
    const v = this.v;
    switch (type) {
      case "seeking":
        // Whose seek this is is decided now, while currentTime is its target.
        this.seekIsOurs = this.ourSeekTo !== null && Math.abs(v.currentTime - this.ourSeekTo) < SAME_TIME_S;
        if (!this.seekIsOurs) this.userSeekAt = Date.now();
        break;
      case "seeked":
        this.userSeekAt = 0;
        if (this.seekIsOurs) this.afterSeek = !!(this.pb && this.pb.playing);
        else this.userCommand("seek");
        this.setBuffering(v.readyState < HAVE_FUTURE_DATA && !v.paused);
        break;
      case "play":
        if (!this.isOurs("play")) this.userCommand("play");
        break;
      case "pause":
        // The end of the movie pauses the video; that is nobody's command.
        if (!this.isOurs("pause") && !v.ended) this.userCommand("pause");
        break;
      case "ratechange":
        if (this.ours.rate !== null && Math.abs(v.playbackRate - this.ours.rate) < 1e-6) break;
        if (this.pb && Math.abs(v.playbackRate - this.pb.rate) > 1e-6) {
          this.userCommand("rate", { rate: v.playbackRate });
        }
        break;
      case "waiting":
        this.setBuffering(!v.paused);
        break;
      case "playing":
        this.blocked = false;
        this.setBuffering(false);
        break;
      case "canplay":
        this.setBuffering(false);
        break;
      default:
    }
  }

  // The user's seek is under way: from its `seeking` to its `seeked` nothing is corrected.
  // `v.seeking` alone is not enough: it turns false when the seek completes, before the
  // `seeked` event that sends the user's command, and a room event handled in between
  // would seek over the user's choice.
  userSeeking() {
    return this.userSeekAt !== 0 && Date.now() - this.userSeekAt < USER_SEEK_MAX_MS;
  }

  setBuffering(b) {
    if (b === this.buffering) return;
    this.buffering = b;
    this.h.buffering(b);
  }

  userCommand(action, extra = {}) {
    if (!this.pb) return;
    const pb = this.pb;
    // A command that changes nothing is not sent: a play while the room plays, a seek to
    // where the room already is.
    if (action === "play" && pb.playing) return;
    if (action === "pause" && !pb.playing) return;
    const position = Math.round(this.v.currentTime * 1000);
    if (action === "seek" && Math.abs(position - expectedPositionMs(pb, this.h.clock)) < 250) return;
    if (this.h.command(action, action === "rate" ? extra : { position_ms: position, ...extra })) {
      this.pending = Date.now() + PENDING_MS;
      this.pendingVersion = pb.version;
      this.nudgingSince = null;
    }
  }
}
