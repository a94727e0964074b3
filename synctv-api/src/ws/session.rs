//! One WebSocket session: register the socket, join the room (welcome snapshot, replay),
//! write the welcome and the replay straight to the connection, start the writer, read
//! client frames until either side closes, then clean up (leave the room, let the writer
//! finish its last writes, free the connection slot) on every path.

use std::num::NonZeroU32;
use std::time::Duration;

use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use governor::{Quota, RateLimiter};
use synctv_cluster::connection::{ConnEntry, ConnPermit};
use synctv_cluster::manager::{Joined, Joiner, Membership};
use synctv_cluster::outbound::{self, CloseReason, ConnSender};
use synctv_core::ids::{Epoch, RoomId};
use synctv_core::model::{Permissions, Role};
use synctv_core::protocol::{ClientFrame, ServerFrame, close, code, conn_id_string};
use synctv_core::time::now_ms;
use tracing::Instrument;
use tungstenite::protocol::{CloseFrame, Role as Side, WebSocketConfig};
use tungstenite::{Message, Utf8Bytes};

use super::upgrade::{self, Io};
use super::{Socket, commands, writer};
use crate::extract::Actor;
use crate::state::AppState;

pub(crate) struct SessionCtx {
    pub room: RoomId,
    pub actor: Actor,
    pub role: Role,
    pub permissions: Option<Permissions>,
    pub resume: Option<(u64, Epoch)>,
}

const CLIENT_GONE: CloseReason = CloseReason {
    code: 1000,
    reason: "",
    drain: false,
};
const TOO_BIG: CloseReason = CloseReason {
    code: close::TOO_BIG,
    reason: "message too big",
    drain: true,
};
const FLOODING: CloseReason = CloseReason {
    code: close::POLICY,
    reason: "rate limit exceeded repeatedly",
    drain: true,
};

pub(crate) async fn run(
    state: AppState,
    mut io: Io,
    config: WebSocketConfig,
    ctx: SessionCtx,
    permit: ConnPermit,
) {
    let ws = &state.config.ws;
    let conns = state.cluster.connections();
    let id = conns.next_id();
    tracing::Span::current().record("conn_id", id.0);
    let (sender, rx) = outbound::channel(id, ws.send_queue_len, now_ms());
    let ctl = sender.ctl().clone();
    let slot = permit.register(ConnEntry {
        sender: sender.clone(),
        room: ctx.room.clone(),
        user: ctx.actor.user_id.clone(),
        opened_ms: now_ms(),
        guest: ctx.actor.guest,
        expires_ms: ctx.actor.expires_at_ms,
    });
    let joiner = Joiner {
        user_id: ctx.actor.user_id.clone(),
        username: ctx.actor.username.clone(),
        role: ctx.role,
        permissions: ctx.permissions,
    };
    let Joined {
        seq,
        epoch,
        resumed,
        snapshot,
        replay,
        membership,
    } = match state
        .cluster
        .join(&ctx.room, joiner, sender.clone(), ctx.resume.clone())
        .await
    {
        Ok(j) => j,
        Err(e) => {
            let (code, reason) = match e {
                synctv_cluster::Error::RoomNotFound => (close::ROOM_DELETED, "room deleted"),
                other => {
                    tracing::error!(error = %other, room = %ctx.room, "joining a room failed");
                    (close::INTERNAL, "internal error")
                }
            };
            let frame = CloseFrame {
                code: code.into(),
                reason: Utf8Bytes::from_static(reason),
            };
            let mut socket = Socket::from_raw_socket(io, Side::Server, Some(config)).await;
            let _ = socket.send(Message::Close(Some(frame))).await;
            drop(slot);
            return;
        }
    };
    let node = &state.cluster.node().node_id;
    let welcome = ServerFrame::Welcome {
        conn_id: conn_id_string(node, id),
        node_id: node,
        server_time_ms: now_ms(),
        seq,
        epoch: &epoch,
        resumed,
        room: &snapshot,
    }
    .encode();
    // The snapshot is as large as the welcome (the member list grows with the room): keep
    // no copy of it for the socket's lifetime.
    drop(snapshot);
    let mut preamble = Vec::with_capacity(1 + replay.len());
    preamble.push(welcome);
    preamble.extend(replay);
    let grace = Duration::from_millis(ws.close_grace_ms);
    let wrote = tokio::time::timeout(grace * 4, upgrade::write_text_frames(&mut io, preamble));
    if !matches!(wrote.await, Ok(Ok(()))) {
        // A client that does not take its welcome in time is a slow consumer.
        ctl.close(CloseReason::SLOW_CONSUMER);
        leave(membership, &ctx.room).await;
        drop(slot);
        return;
    }
    let socket = Socket::from_raw_socket(io, Side::Server, Some(config)).await;
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(writer::run(sink, rx, ctl.clone(), grace).in_current_span());
    if conns.is_draining() {
        // Upgraded just as the drain began: this socket missed the broadcast.
        let notice = ServerFrame::Shutdown {
            reconnect_after_ms: state.config.server.shutdown_reconnect_after_ms,
        };
        sender.send_frame(notice.encode());
        ctl.close(CloseReason::SHUTDOWN);
    }

    let client_closed = read_loop(&state, &ctx, &sender, &mut stream).await;
    ctl.close(CLIENT_GONE); // no-op if a reason was already set
    leave(membership, &ctx.room).await;
    if !client_closed {
        // We are closing: finish the closing handshake by reading (and discarding) until the
        // client's close frame, within the grace period. Dropping the socket with unread
        // input would make the kernel reset the connection, destroying our close frame
        // before the client could read it.
        let _ = tokio::time::timeout(grace, async {
            while let Some(Ok(m)) = stream.next().await {
                if matches!(m, Message::Close(_)) {
                    break;
                }
            }
        })
        .await;
    }
    drop(sender);
    let _ = writer.await;
    drop(slot);
}

async fn leave(membership: Membership, room: &RoomId) {
    if let Err(e) = membership.leave().await {
        tracing::warn!(error = %e, room = %room, "leaving a room failed");
    }
}

/// Read client frames until the client closes (returns true) or this side decides to close
/// (returns false).
async fn read_loop(
    state: &AppState,
    ctx: &SessionCtx,
    sender: &ConnSender,
    stream: &mut SplitStream<Socket>,
) -> bool {
    let ws = &state.config.ws;
    let ctl = sender.ctl();
    let rate = NonZeroU32::new(ws.rate_per_sec).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(ws.rate_burst).unwrap_or(rate);
    let limiter = RateLimiter::direct(Quota::per_second(rate).allow_burst(burst));
    let mut flood = Flood::default();
    loop {
        let msg = tokio::select! {
            biased;
            _ = ctl.closed() => return false,
            m = stream.next() => m,
        };
        let msg = match msg {
            None => return true,
            Some(Err(e)) => {
                if is_too_big(e) {
                    commands::send_error(
                        state,
                        sender,
                        code::MESSAGE_TOO_BIG,
                        "message exceeds the size limit",
                        None,
                    );
                    ctl.close(TOO_BIG);
                    return false;
                }
                return true;
            }
            Some(Ok(m)) => m,
        };
        let now = now_ms();
        ctl.touch(now);
        if matches!(msg, Message::Close(_)) {
            return true;
        }
        // Every frame the client sends counts against its rate: text, binary, pings and
        // pongs alike (only the client's close does not).
        let over = limiter.check().is_err();
        if over && flood.violation(now, ws.max_rate_violations) {
            ctl.close(FLOODING);
            return false;
        }
        match msg {
            Message::Text(text) => {
                state.metrics.frames_received.increment(1);
                if over {
                    let r#ref = ClientFrame::parse(text.as_str()).r#ref;
                    commands::send_error(
                        state,
                        sender,
                        code::RATE_LIMITED,
                        "too many frames; slow down",
                        r#ref.as_ref(),
                    );
                    continue;
                }
                commands::handle(state, ctx, sender, text.as_str()).await;
            }
            Message::Binary(_) if !over => {
                commands::send_error(
                    state,
                    sender,
                    code::BINARY_NOT_SUPPORTED,
                    "frames must be JSON text",
                    None,
                );
            }
            _ => {}
        }
    }
}

/// Rate violations of one socket. They are forgiven only after a quiet spell with none
/// (`FORGIVE_MS`), not by the next accepted frame, so interleaving valid frames with a
/// flood does not keep a client under `ws.max_rate_violations`.
#[derive(Default)]
struct Flood {
    violations: u32,
    last_ms: u64,
}

const FORGIVE_MS: u64 = 10_000;

impl Flood {
    /// Count one violation at `now`; true when the socket is to be closed.
    fn violation(&mut self, now: u64, max: u32) -> bool {
        if now.saturating_sub(self.last_ms) > FORGIVE_MS {
            self.violations = 0;
        }
        self.last_ms = now;
        self.violations += 1;
        self.violations >= max
    }
}

/// Whether a read error is tungstenite refusing an oversized message or frame.
fn is_too_big(e: tungstenite::Error) -> bool {
    matches!(e, tungstenite::Error::Capacity(_))
}

#[cfg(test)]
mod tests {
    use super::Flood;

    #[test]
    fn violations_accumulate_across_accepted_frames_and_are_forgiven_after_quiet() {
        let mut f = Flood::default();
        // Four violations, each followed (in the caller) by accepted frames: still counted.
        for t in [1_000, 1_500, 2_000, 2_500] {
            assert!(!f.violation(t, 5));
        }
        assert!(f.violation(3_000, 5), "the fifth closes the socket");
        let mut f = Flood::default();
        for t in [1_000, 2_000, 3_000, 4_000] {
            assert!(!f.violation(t, 5));
        }
        // Ten quiet seconds forgive them.
        assert!(!f.violation(15_000, 5));
        assert_eq!(f.violations, 1);
    }
}
