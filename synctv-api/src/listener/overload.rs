//! The answer to a connection beyond `server.max_http_connections`: an immediate
//! `503 overloaded` in the API's JSON error shape, then close. No HTTP parsing, no task per
//! request: the answer is a fixed string written on the raw socket.

use std::io;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::error::error_body;

/// Refused connections that may linger at once (each holds its socket for up to
/// [`LINGER`]); beyond that a refusal is written once, best effort, and the socket closed.
pub(super) const MAX_LINGERING: usize = 64;

/// How long a refused connection may take to receive the answer and hang up.
const LINGER: Duration = Duration::from_secs(2);

/// What the client may send before hanging up; the rest is not waited for.
const DRAIN_BYTES: usize = 64 * 1024;

static ANSWER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let body = error_body(
        "overloaded",
        "this node has too many open connections; retry shortly",
    )
    .to_string();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
});

/// Answer `stream` with 503 `overloaded` and close it.
pub(super) fn refuse(stream: TcpStream, lingering: &Arc<Semaphore>) {
    match lingering.clone().try_acquire_owned() {
        Ok(permit) => {
            tokio::spawn(async move {
                let _ = tokio::time::timeout(LINGER, answer(stream)).await;
                drop(permit);
            });
        }
        Err(_) => {
            let _ = stream.try_write(&ANSWER);
        }
    }
}

/// Write the answer, end our side, then read what the client sent until it hangs up:
/// closing a socket with unread input resets the connection, and a reset can destroy the
/// answer before the client has read it.
async fn answer(mut stream: TcpStream) -> io::Result<()> {
    stream.write_all(&ANSWER).await?;
    stream.shutdown().await?;
    let mut buf = [0u8; 4096];
    let mut drained = 0;
    while drained < DRAIN_BYTES {
        match stream.read(&mut buf).await? {
            0 => break,
            n => drained += n,
        }
    }
    Ok(())
}
