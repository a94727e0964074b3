//! Connection limits per user, per room and per client address, counted where the slot is
//! reserved (before the WebSocket upgrade) and released with it, whatever the path.

use std::hash::Hash;
use std::net::IpAddr;

use dashmap::DashMap;
use synctv_core::config::Config;
use synctv_core::ids::{RoomId, UserId};

/// The limits of one node (0 means no limit for the per-key ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    pub global: usize,
    pub per_user: usize,
    pub per_room: usize,
    pub per_address: usize,
}

impl ConnLimits {
    pub fn from_config(c: &Config) -> Self {
        let l = &c.limits;
        Self {
            global: l.max_connections,
            per_user: l.max_connections_per_user,
            per_room: l.max_connections_per_room,
            per_address: l.max_connections_per_address,
        }
    }

    /// Only the global limit (tests, benchmarks).
    pub fn global(max: usize) -> Self {
        Self {
            global: max,
            per_user: 0,
            per_room: 0,
            per_address: 0,
        }
    }
}

/// Who a socket belongs to, for the per-key limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnKey {
    pub user: UserId,
    pub room: RoomId,
    pub address: Option<IpAddr>,
}

/// Why a slot was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Draining,
    NodeFull,
    User,
    Room,
    Address,
}

/// Counts per key; an entry is removed when its count drops to zero, so the maps hold only
/// keys with sockets.
pub(super) struct Counts<K: Eq + Hash> {
    map: DashMap<K, usize>,
}

impl<K: Eq + Hash + Clone> Counts<K> {
    pub fn new() -> Self {
        Self {
            map: DashMap::new(),
        }
    }

    /// Count one more unless that exceeds `max` (0: no limit).
    pub fn try_add(&self, key: &K, max: usize) -> bool {
        let mut e = self.map.entry(key.clone()).or_insert(0);
        if max > 0 && *e >= max {
            let empty = *e == 0;
            drop(e);
            if empty {
                self.map.remove_if(key, |_, n| *n == 0);
            }
            return false;
        }
        *e += 1;
        true
    }

    pub fn remove(&self, key: &K) {
        if let Some(mut e) = self.map.get_mut(key) {
            *e = e.saturating_sub(1);
        }
        self.map.remove_if(key, |_, n| *n == 0);
    }

    pub fn get(&self, key: &K) -> usize {
        self.map.get(key).map_or(0, |n| *n)
    }

    /// The `n` keys with the most sockets, most first.
    pub fn top(&self, n: usize) -> Vec<(K, usize)> {
        let mut all: Vec<(K, usize)> = self.map.iter().map(|e| (e.key().clone(), *e)).collect();
        all.sort_unstable_by_key(|e| std::cmp::Reverse(e.1));
        all.truncate(n);
        all
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }
}
