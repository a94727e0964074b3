//! One accepted connection: HTTP/1.1 through hyper (with upgrades, for WebSockets) into the
//! axum router, under the deadlines of its [`Phase`], until it closes, times out, upgrades
//! or the listener stops (then requests whose handler runs finish; idle connections and
//! ones that sent at most part of a head are closed).

use std::convert::Infallible;
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::{Body, Incoming};
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

use super::phase::{Phase, Timeout};
use super::tracked::{RequestBody, ResponseBody, Slot, TrackedStream};
use super::{ListenerMetrics, Options};

enum End {
    Closed(hyper::Result<()>),
    TimedOut(Timeout),
}

pub(super) async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    slot: Slot,
    router: Router,
    opts: Options,
    metrics: ListenerMetrics,
    stop: CancellationToken,
) {
    let phase = Arc::new(Phase::new(opts.header_read_timeout, opts.idle_timeout));
    let io = TokioIo::new(TrackedStream::new(stream, phase.clone(), slot));
    let service = hyper::service::service_fn({
        let phase = phase.clone();
        move |req: Request<Incoming>| call(&router, peer, &phase, req)
    });
    // The deadlines are ours (see `phase`): hyper's own header timer would also cut idle
    // keep-alive connections short.
    let conn = http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service)
        .with_upgrades();
    let mut conn = pin!(conn);
    let mut stopping = pin!(stop.cancelled());
    let mut stopped = false;
    let mut timer = pin!(tokio::time::sleep_until(Instant::now()));
    let mut armed: Option<Instant> = None;
    // Every change of the phase happens while `conn` is polled (reads, the service and the
    // bodies all run inside it), so reading the deadline right after each poll is exact.
    let end = poll_fn(|cx| {
        if !stopped && stopping.as_mut().poll(cx).is_ready() {
            stopped = true;
            conn.as_mut().graceful_shutdown();
        }
        if let Poll::Ready(r) = conn.as_mut().poll(cx) {
            return Poll::Ready(End::Closed(r));
        }
        // hyper's graceful shutdown waits for the head of a request that has not begun;
        // after the drain there is nothing to wait for.
        if stopped && phase.between_requests() {
            return Poll::Ready(End::Closed(Ok(())));
        }
        let Some((until, which)) = phase.deadline() else {
            armed = None;
            return Poll::Pending;
        };
        if armed != Some(until) {
            timer.as_mut().reset(until);
            armed = Some(until);
        }
        timer.as_mut().poll(cx).map(|()| End::TimedOut(which))
    })
    .await;
    // Upgraded (the socket now belongs to a WebSocket) or over: no more HTTP deadlines.
    phase.detach();
    match end {
        End::Closed(Ok(())) => {}
        End::Closed(Err(e)) => tracing::debug!(%peer, error = %e, "http connection error"),
        End::TimedOut(which) => {
            metrics.timeout(which);
            tracing::debug!(%peer, timeout = which.label(), "http connection timed out");
        }
    }
}

/// Hand one request to the router, with the peer address as `ConnectInfo` (the rate
/// limiter reads it) and bodies that report to the phase.
fn call(
    router: &Router,
    peer: SocketAddr,
    phase: &Arc<Phase>,
    req: Request<Incoming>,
) -> impl Future<Output = Result<Response<ResponseBody>, Infallible>> + Send + use<> {
    phase.on_request(!req.body().is_end_stream());
    let (mut parts, body) = req.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let req = Request::from_parts(parts, RequestBody::new(body, phase.clone()));
    let response = router.clone().oneshot(req);
    let phase = phase.clone();
    async move {
        let response = response.await?;
        Ok(response.map(|body| ResponseBody::new(body, phase)))
    }
}
