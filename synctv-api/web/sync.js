// Clock and drift arithmetic, kept free of the DOM so node can test it.
//
// The server stamps playback with its own clock (updated_at_ms). From each ping/pong we get
// a sample offset = server_now - client_now, assuming the pong was stamped halfway through
// the round trip; the error of that assumption is at most rtt/2, so the fastest round trips
// are the trustworthy ones. We keep the recent samples and average the fastest few (those
// within twice the fastest round trip), weighting each by 1/rtt², so one lucky fast sample
// dominates a handful of slower ones.

const MAX_SAMPLES = 20;
const BEST = 4;
// Samples older than this make way for new ones (a changed network path, a clock step).
const SAMPLE_TTL_MS = 120000;

export class Clock {
  constructor(now = () => Date.now()) {
    this.now = now;
    this.samples = [];
    this.offset = 0;
    this.rtt = Infinity; // of the fastest sample in use
  }

  // A rough first guess from the welcome frame, before any pong arrives.
  seed(serverTimeMs) {
    if (this.samples.length === 0) this.offset = serverTimeMs - this.now();
  }

  pong(clientTimeMs, serverTimeMs) {
    const at = this.now();
    const rtt = at - clientTimeMs;
    if (!(rtt >= 0 && rtt < 60000)) return; // not one of ours, or absurd
    this.samples.push({ rtt, offset: serverTimeMs - (clientTimeMs + rtt / 2), at });
    while (this.samples.length > MAX_SAMPLES) this.samples.shift();
    const fresh = this.samples.filter((s) => at - s.at <= SAMPLE_TTL_MS);
    fresh.sort((a, b) => a.rtt - b.rtt);
    // Samples much slower than the fastest are left out entirely: their error bound is.
    const limit = fresh[0].rtt * 2 + 10;
    const best = fresh.filter((s) => s.rtt <= limit).slice(0, BEST);
    let sum = 0;
    let weights = 0;
    for (const s of best) {
      const w = 1 / (s.rtt + 1) ** 2;
      sum += s.offset * w;
      weights += w;
    }
    this.offset = sum / weights;
    this.rtt = best[0].rtt;
  }

  serverNow() {
    return this.now() + this.offset;
  }
}

// Where the room's playback should be now, in milliseconds.
export function expectedPositionMs(pb, clock) {
  if (!pb || !pb.playing) return pb ? pb.position_ms : 0;
  return pb.position_ms + Math.max(0, clock.serverNow() - pb.updated_at_ms) * pb.rate;
}

// Drift correction. Small drift is corrected by playing slightly faster or slower (a
// proportional controller: the rate offset is drift / CORRECT_OVER_MS, at most MAX_NUDGE),
// which nobody sees or hears; large drift by seeking, which everybody sees. Hysteresis
// (start nudging beyond NUDGE_FROM_MS, stop within IN_SYNC_MS) keeps measurement noise from
// flapping the rate. A nudge that has not worked after NUDGE_MAX_MS (a player that cannot
// keep up, say) ends in a seek rather than going on for ever.
export const IN_SYNC_MS = 15;
export const NUDGE_FROM_MS = 35;
export const SEEK_FROM_MS = 200;
export const MAX_NUDGE = 0.1;
export const CORRECT_OVER_MS = 500;
export const NUDGE_MAX_MS = 5000;

// driftMs: player position minus expected (positive: ahead). baseRate: the room's rate.
// nudgingSinceMs: when the running nudge began (null if none); nowMs: the time now.
// Returns {seek: true} or {rate, nudging} where nudging says whether a nudge is running.
export function correction(driftMs, baseRate, nudgingSinceMs, nowMs) {
  const abs = Math.abs(driftMs);
  if (abs >= SEEK_FROM_MS) return { seek: true };
  const nudging = nudgingSinceMs !== null;
  if (nudging && nowMs - nudgingSinceMs > NUDGE_MAX_MS && abs > NUDGE_FROM_MS) return { seek: true };
  if (abs <= IN_SYNC_MS || (!nudging && abs < NUDGE_FROM_MS)) return { rate: baseRate, nudging: false };
  const k = Math.max(-MAX_NUDGE, Math.min(MAX_NUDGE, driftMs / CORRECT_OVER_MS));
  return { rate: baseRate * (1 - k), nudging: true };
}
