//! What keeps one client from exhausting the node's CPU or a room's password:
//!
//! - argon2 runs on at most `limits.password_hash_concurrency` blocking threads at once
//!   (default: the number of cores); a request that waits longer than [`HASH_WAIT`] for one
//!   gets 503 `server_busy`, so a flood of password checks cannot queue without end while
//!   `/health` and everything else stay on the async executor.
//! - room-password attempts are limited per room and client address and per room overall
//!   (429 `too_many_attempts` with `Retry-After`), so a password room cannot be
//!   brute-forced from one address or from many.
//! - a socket or request that gave a room's right password is remembered (user, room, a
//!   keyed hash of the password, the room's password hash): its reconnects skip argon2 and
//!   do not count as attempts, so a reconnect storm after a node death costs no hashing.
//! - guest identities and room creation are limited per client address.

use std::hash::{BuildHasher, RandomState};
use std::net::IpAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use lru::LruCache;
use synctv_core::config::LimitsConfig;
use synctv_core::ids::{RoomId, UserId};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::{Error, Result};

/// How long a request may wait for an argon2 thread.
pub const HASH_WAIT: Duration = Duration::from_secs(10);
/// Remembered right room passwords.
const VERIFIED_CAPACITY: usize = 10_000;

type Keyed<K> = Option<DefaultKeyedRateLimiter<K>>;

pub struct Throttles {
    hashing: Semaphore,
    room_password: Keyed<(RoomId, IpAddr)>,
    room_password_room: Keyed<RoomId>,
    guests: Keyed<IpAddr>,
    rooms: Keyed<IpAddr>,
    verified: Mutex<LruCache<(UserId, RoomId), (u64, String)>>,
    keyed: RandomState,
}

fn per_minute<K: std::hash::Hash + Eq + Clone>(n: u32) -> Keyed<K> {
    NonZeroU32::new(n).map(|n| RateLimiter::keyed(Quota::per_minute(n).allow_burst(n)))
}

impl Throttles {
    pub fn new(l: &LimitsConfig) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, NonZeroUsize::get);
        let hashing = match l.password_hash_concurrency {
            0 => cores,
            n => n,
        };
        Self {
            hashing: Semaphore::new(hashing),
            room_password: per_minute(l.room_password_attempts_per_min),
            room_password_room: per_minute(l.room_password_attempts_per_room_per_min),
            guests: per_minute(l.guests_per_min),
            rooms: per_minute(l.rooms_per_min),
            verified: Mutex::new(LruCache::new(
                NonZeroUsize::new(VERIFIED_CAPACITY).expect("non-zero"),
            )),
            keyed: RandomState::new(),
        }
    }

    /// A slot to run argon2 in, or 503 when none frees up within [`HASH_WAIT`].
    pub async fn hashing(&self) -> Result<SemaphorePermit<'_>> {
        match tokio::time::timeout(HASH_WAIT, self.hashing.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(Error::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "too many password checks in progress; retry shortly",
            )),
        }
    }

    /// Whether `user` already gave this `password` for the room's current password hash.
    pub fn known_password(&self, user: &UserId, room: &RoomId, password: &str, phc: &str) -> bool {
        let key = (user.clone(), room.clone());
        let want = self.keyed.hash_one(password);
        let mut cache = self.verified.lock().expect("verified cache");
        matches!(cache.get(&key), Some((h, p)) if *h == want && p == phc)
    }

    pub fn remember_password(&self, user: &UserId, room: &RoomId, password: &str, phc: &str) {
        let h = self.keyed.hash_one(password);
        self.verified
            .lock()
            .expect("verified cache")
            .put((user.clone(), room.clone()), (h, phc.to_string()));
    }

    /// Count one room-password attempt (one that needs argon2).
    pub fn room_password_attempt(&self, room: &RoomId, client: Option<IpAddr>) -> Result<()> {
        const MSG: &str = "too many password attempts for this room; retry later";
        if let Some(ip) = client {
            check(
                &self.room_password,
                &(room.clone(), ip),
                "too_many_attempts",
                MSG,
            )?;
        }
        check(&self.room_password_room, room, "too_many_attempts", MSG)
    }

    pub fn guest(&self, client: Option<IpAddr>) -> Result<()> {
        match client {
            Some(ip) => check(
                &self.guests,
                &ip,
                "rate_limited",
                "too many guest identities from this address; retry later",
            ),
            None => Ok(()),
        }
    }

    pub fn room_creation(&self, client: Option<IpAddr>) -> Result<()> {
        match client {
            Some(ip) => check(
                &self.rooms,
                &ip,
                "rate_limited",
                "too many rooms created from this address; retry later",
            ),
            None => Ok(()),
        }
    }

    /// Forget limiter state that no longer limits anyone (called by the sweep).
    pub fn retain_recent(&self) {
        if let Some(l) = &self.room_password {
            l.retain_recent();
        }
        if let Some(l) = &self.room_password_room {
            l.retain_recent();
        }
        if let Some(l) = &self.guests {
            l.retain_recent();
        }
        if let Some(l) = &self.rooms {
            l.retain_recent();
        }
    }
}

fn check<K: std::hash::Hash + Eq + Clone>(
    limiter: &Keyed<K>,
    key: &K,
    code: &'static str,
    message: &'static str,
) -> Result<()> {
    let Some(l) = limiter else { return Ok(()) };
    l.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        Error::Throttled {
            code,
            message: message.into(),
            retry_after_secs: wait.as_secs() + 1,
        }
    })
}
