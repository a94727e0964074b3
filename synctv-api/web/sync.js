// Clock and playback arithmetic, kept free of the DOM so it is easy to reason about.
//
// The server stamps playback with its own clock (updated_at_ms). We estimate
// offset = server_now - client_now from ping/pong, assuming the pong was stamped halfway
// through the round trip, and keep the sample with the smallest round trip (least noise).

export class Clock {
  constructor() {
    this.offset = 0;
    this.rtt = Infinity;
  }

  // A rough first guess from the welcome frame, before any pong arrives.
  seed(serverTimeMs) {
    if (this.rtt === Infinity) this.offset = serverTimeMs - Date.now();
  }

  pong(clientTimeMs, serverTimeMs) {
    const now = Date.now();
    const rtt = now - clientTimeMs;
    if (rtt < 0) return;
    // Old samples age out slowly so a changed network path is eventually noticed.
    this.rtt = Math.min(this.rtt * 1.05, 1e9);
    if (rtt <= this.rtt) {
      this.rtt = rtt;
      this.offset = serverTimeMs - (clientTimeMs + rtt / 2);
    }
  }

  serverNow() {
    return Date.now() + this.offset;
  }
}

// Where the room's playback should be now, in milliseconds.
export function expectedPositionMs(pb, clock) {
  if (!pb || !pb.playing) return pb ? pb.position_ms : 0;
  return pb.position_ms + Math.max(0, clock.serverNow() - pb.updated_at_ms) * pb.rate;
}

// Seek only when off by more than this: small drift is not worth a visible jump.
export const DRIFT_TOLERANCE_MS = 750;
