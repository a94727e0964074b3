//! The wrappers that report to a connection's [`Phase`]: the socket (its reads, and the
//! connection slot it holds until it closes, upgraded or not), the request body (read to
//! its end) and the response body (written in full).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use metrics::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::phase::Phase;

/// One of `server.max_http_connections`, held by an open socket; released on drop.
pub struct Slot {
    _permit: OwnedSemaphorePermit,
    active: Gauge,
}

impl Slot {
    pub fn new(permit: OwnedSemaphorePermit, active: Gauge) -> Slot {
        active.increment(1.0);
        Slot {
            _permit: permit,
            active,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.active.decrement(1.0);
    }
}

/// The accepted socket. It moves into the WebSocket after an upgrade, slot and all, so a
/// WebSocket counts toward the cap for as long as it is open.
pub struct TrackedStream {
    inner: TcpStream,
    phase: Arc<Phase>,
    _slot: Slot,
}

impl TrackedStream {
    pub fn new(inner: TcpStream, phase: Arc<Phase>, slot: Slot) -> TrackedStream {
        TrackedStream {
            inner,
            phase,
            _slot: slot,
        }
    }
}

impl AsyncRead for TrackedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.inner).poll_read(cx, buf))?;
        self.phase.on_read(buf.filled().len() - before);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for TrackedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A request body that tells the phase when it has been read to its end.
pub struct RequestBody {
    inner: Incoming,
    phase: Option<Arc<Phase>>,
}

impl RequestBody {
    pub fn new(inner: Incoming, phase: Arc<Phase>) -> RequestBody {
        RequestBody {
            inner,
            phase: Some(phase),
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if (frame.is_none() || self.inner.is_end_stream())
            && let Some(phase) = self.phase.take()
        {
            phase.on_body_end();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that tells the phase when it is done: at its end, or when hyper drops
/// it (an empty body is never polled).
pub struct ResponseBody {
    inner: axum::body::Body,
    phase: Option<Arc<Phase>>,
}

impl ResponseBody {
    pub fn new(inner: axum::body::Body, phase: Arc<Phase>) -> ResponseBody {
        ResponseBody {
            inner,
            phase: Some(phase),
        }
    }

    fn done(&mut self) {
        if let Some(phase) = self.phase.take() {
            phase.on_response_end();
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.done();
    }
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let frame = ready!(Pin::new(&mut self.inner).poll_frame(cx));
        if frame.is_none() {
            self.done();
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
