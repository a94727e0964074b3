//! Handling one client frame: parse, dispatch, and answer with exactly one `ack` or `error`
//! when the frame carries a `ref` (and an `error` without `ref` when it does not).

use synctv_cluster::outbound::ConnSender;
use synctv_core::protocol::{ClientFrame, ClientRequest, FrameRef, ServerFrame};
use synctv_core::time::now_ms;

use super::session::SessionCtx;
use crate::error::Result;
use crate::service::{chat, playback};
use crate::state::AppState;

pub(super) async fn handle(state: &AppState, ctx: &SessionCtx, sender: &ConnSender, text: &str) {
    let frame = ClientFrame::parse(text);
    let r#ref = frame.r#ref.as_ref();
    match frame.request {
        Err(e) => send_error(state, sender, e.code, &e.message, r#ref),
        Ok(ClientRequest::Ping {
            client_time_ms,
            drift_ms,
        }) => {
            if let Some(d) = drift_ms {
                state.metrics.sync_drift.record(d.abs() / 1000.0);
            }
            let pong = ServerFrame::Pong {
                client_time_ms,
                server_time_ms: now_ms(),
                r#ref,
            };
            sender.send_frame(pong.encode());
            if let Some(r) = r#ref {
                sender.send_frame(
                    ServerFrame::Ack {
                        r#ref: r,
                        seq: None,
                    }
                    .encode(),
                );
            }
        }
        Ok(ClientRequest::Chat { text }) => {
            let res = chat::send(state, &ctx.room, &ctx.actor, &text).await;
            reply(state, sender, r#ref, res);
        }
        Ok(ClientRequest::Playback(cmd)) => {
            let res = playback::control(state, &ctx.room, &ctx.actor, &cmd).await;
            reply(state, sender, r#ref, res);
        }
    }
}

fn reply(state: &AppState, sender: &ConnSender, r#ref: Option<&FrameRef>, res: Result<u64>) {
    match res {
        Ok(seq) => {
            if let Some(r) = r#ref {
                sender.send_frame(
                    ServerFrame::Ack {
                        r#ref: r,
                        seq: Some(seq),
                    }
                    .encode(),
                );
            }
        }
        Err(e) => {
            if e.status_code().is_server_error() {
                tracing::error!(error = %e, "websocket command failed");
            }
            send_error(state, sender, e.code(), &e.public_message(), r#ref);
        }
    }
}

pub(super) fn send_error(
    state: &AppState,
    sender: &ConnSender,
    code: &'static str,
    message: &str,
    r#ref: Option<&FrameRef>,
) {
    state.metrics.ws_error(code);
    sender.send_frame(
        ServerFrame::Error {
            code,
            message,
            r#ref,
        }
        .encode(),
    );
}
