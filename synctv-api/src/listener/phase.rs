//! Where one HTTP/1.1 connection stands between requests, and the deadline that follows.
//!
//! hyper has one knob for this, `header_read_timeout`, and it also runs while a keep-alive
//! connection waits for its next request (the timer starts as soon as hyper is ready to read
//! a head), so an idle timeout longer than the header timeout cannot be expressed with it.
//! Like Go's `ReadHeaderTimeout` and `IdleTimeout`, two deadlines are kept here instead:
//!
//! - **request**: from a connection's start, or from the first byte of a later request, the
//!   head must arrive within `server.header_read_timeout_secs`; a body the handler waits for
//!   gets the same time again once the head is in;
//! - **idle**: after a response, the next request must start within
//!   `server.http_idle_timeout_secs`.
//!
//! While a handler runs (and its response is written) there is no deadline. The phase is
//! updated by the connection's reads, by its service and by its bodies, all of which run
//! inside the connection's one task, so the lock is never contended; it is never held
//! across an `.await`. After an upgrade (WebSocket) the phase is detached: the socket is no
//! longer HTTP and its reads are not tracked.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;

/// Which deadline closed a connection (a label of `synctv_http_connection_timeouts_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timeout {
    /// A request's head (or the body its handler read) did not arrive in time.
    Request,
    /// No request started in time after the last response.
    Idle,
}

impl Timeout {
    pub fn label(self) -> &'static str {
        match self {
            Timeout::Request => "request",
            Timeout::Idle => "idle",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for (the rest of) a request's head; no handler runs.
    Head { until: Instant },
    /// A handler runs and waits for the request's body.
    Body { until: Instant },
    /// A handler runs or its response is being written. `read_ahead`: bytes of the next
    /// request arrived meanwhile (a pipelining client), so its clock is already running.
    Busy { read_ahead: bool },
    /// Between requests.
    Idle { until: Instant },
}

pub struct Phase {
    state: Mutex<State>,
    request_timeout: Duration,
    idle_timeout: Duration,
    detached: AtomicBool,
}

impl Phase {
    /// A new connection: its first request must arrive within the request timeout.
    pub fn new(request_timeout: Duration, idle_timeout: Duration) -> Phase {
        Phase {
            state: Mutex::new(State::Head {
                until: Instant::now() + request_timeout,
            }),
            request_timeout,
            idle_timeout,
            detached: AtomicBool::new(false),
        }
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        if self.detached.load(Ordering::Relaxed) {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state);
    }

    /// `n` bytes were read from the socket.
    pub fn on_read(&self, n: usize) {
        if n == 0 {
            return;
        }
        self.with(|s| match s {
            State::Idle { .. } => {
                *s = State::Head {
                    until: Instant::now() + self.request_timeout,
                }
            }
            State::Busy { read_ahead } => *read_ahead = true,
            State::Head { .. } | State::Body { .. } => {}
        });
    }

    /// A request head was parsed and its handler called; `body_pending` when a body follows.
    pub fn on_request(&self, body_pending: bool) {
        self.with(|s| {
            *s = if body_pending {
                State::Body {
                    until: Instant::now() + self.request_timeout,
                }
            } else {
                State::Busy { read_ahead: false }
            }
        });
    }

    /// The request's body has been read to its end.
    pub fn on_body_end(&self) {
        self.with(|s| {
            if let State::Body { .. } = s {
                *s = State::Busy { read_ahead: false };
            }
        });
    }

    /// The response has been handed to the socket in full.
    pub fn on_response_end(&self) {
        self.with(|s| {
            let now = Instant::now();
            *s = match s {
                State::Busy { read_ahead: true } => State::Head {
                    until: now + self.request_timeout,
                },
                _ => State::Idle {
                    until: now + self.idle_timeout,
                },
            }
        });
    }

    /// The connection is no longer HTTP (upgraded) or has ended: stop tracking it.
    pub fn detach(&self) {
        self.detached.store(true, Ordering::Relaxed);
    }

    /// The deadline now in force, if any.
    pub fn deadline(&self) -> Option<(Instant, Timeout)> {
        if self.detached.load(Ordering::Relaxed) {
            return None;
        }
        match *self.state.lock().unwrap_or_else(|e| e.into_inner()) {
            State::Head { until } | State::Body { until } => Some((until, Timeout::Request)),
            State::Idle { until } => Some((until, Timeout::Idle)),
            State::Busy { .. } => None,
        }
    }

    /// No handler runs: the connection is idle or has sent at most part of a head. Such a
    /// connection may be closed at shutdown without losing a request the server took on.
    pub fn between_requests(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(|e| e.into_inner()),
            State::Head { .. } | State::Idle { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: Duration = Duration::from_secs(10);
    const IDLE: Duration = Duration::from_secs(60);

    fn kind(p: &Phase) -> Option<Timeout> {
        p.deadline().map(|(_, k)| k)
    }

    #[test]
    fn a_request_cycle_moves_between_the_two_deadlines() {
        let started = Instant::now();
        let p = Phase::new(REQUEST, IDLE);
        let (until, k) = p.deadline().unwrap();
        assert_eq!(k, Timeout::Request);
        assert!(until >= started + REQUEST);
        assert!(p.between_requests());
        p.on_read(10);
        p.on_request(false);
        assert_eq!(kind(&p), None, "no deadline while the handler runs");
        assert!(!p.between_requests());
        let before = Instant::now();
        p.on_response_end();
        let (until, k) = p.deadline().unwrap();
        assert_eq!(k, Timeout::Idle);
        assert!(until >= before + IDLE);
        p.on_read(0);
        assert_eq!(kind(&p), Some(Timeout::Idle), "EOF is not a request");
        p.on_read(3);
        assert_eq!(kind(&p), Some(Timeout::Request));
    }

    #[test]
    fn a_pending_body_keeps_the_request_deadline_until_it_is_read() {
        let p = Phase::new(REQUEST, IDLE);
        p.on_request(true);
        assert_eq!(kind(&p), Some(Timeout::Request));
        assert!(!p.between_requests(), "its handler runs");
        p.on_read(100);
        assert_eq!(kind(&p), Some(Timeout::Request));
        p.on_body_end();
        assert_eq!(kind(&p), None);
    }

    #[test]
    fn bytes_read_during_a_response_start_the_next_request_clock() {
        let p = Phase::new(REQUEST, IDLE);
        p.on_request(false);
        p.on_read(5);
        p.on_response_end();
        assert_eq!(kind(&p), Some(Timeout::Request));
    }

    #[test]
    fn a_detached_connection_has_no_deadline() {
        let p = Phase::new(REQUEST, IDLE);
        p.on_request(false);
        p.on_response_end();
        p.detach();
        p.on_read(1);
        assert_eq!(kind(&p), None);
    }
}
