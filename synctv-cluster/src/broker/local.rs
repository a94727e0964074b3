//! The single-node broker: streams live in this process.
//!
//! Each room's stream is behind its own mutex; `publish` assigns the seq, appends to history
//! and calls the handler while holding it, so deliveries reach the hub in seq order without
//! any other coordination. A stream is forgotten when no local subscriber pins it and its
//! history has expired; the next event then starts a new epoch, which tells resuming clients
//! their point is gone. Idle rooms therefore cost no memory.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use bytes::Bytes;
use dashmap::DashMap;
use synctv_core::event::EventDraft;
use synctv_core::ids::{Epoch, RoomId};

use super::{Broker, Publication, PublicationHandler, StreamPosition};
use crate::Result;
use crate::history::{History, HistoryLimits};

struct Stream {
    epoch: Epoch,
    seq: u64,
    history: History,
    /// Local subscriptions keeping this stream alive.
    pins: usize,
}

pub struct LocalBroker {
    streams: DashMap<RoomId, Arc<Mutex<Stream>>>,
    limits: HistoryLimits,
    handler: Arc<dyn PublicationHandler>,
}

impl LocalBroker {
    pub fn new(limits: HistoryLimits, handler: Arc<dyn PublicationHandler>) -> Self {
        Self {
            streams: DashMap::new(),
            limits,
            handler,
        }
    }

    fn stream(&self, room: &RoomId) -> Arc<Mutex<Stream>> {
        self.streams
            .entry(room.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Stream {
                    epoch: Epoch::random(),
                    seq: 0,
                    history: History::new(self.limits),
                    pins: 0,
                }))
            })
            .clone()
    }

    /// Streams held in memory (for tests and metrics).
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }
}

// The stream mutexes are std mutexes: they are never held across an `.await`.
fn lock(s: &Mutex<Stream>) -> std::sync::MutexGuard<'_, Stream> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

#[async_trait]
impl Broker for LocalBroker {
    async fn publish(&self, room: &RoomId, draft: EventDraft) -> Result<Publication> {
        let stream = self.stream(room);
        let mut s = lock(&stream);
        s.seq += 1;
        let publication = Publication {
            seq: s.seq,
            epoch: s.epoch.clone(),
            ts_ms: draft.ts_ms,
            frame: draft.encode(s.seq),
            event: Arc::new(draft.event),
        };
        s.history.push(
            publication.seq,
            publication.ts_ms,
            publication.frame.clone(),
        );
        self.handler.handle(room, &publication);
        Ok(publication)
    }

    async fn position(&self, room: &RoomId) -> Result<StreamPosition> {
        let stream = self.stream(room);
        let s = lock(&stream);
        Ok(StreamPosition {
            seq: s.seq,
            epoch: s.epoch.clone(),
        })
    }

    async fn history(
        &self,
        room: &RoomId,
        epoch: &Epoch,
        since: u64,
        upto: u64,
    ) -> Result<Option<Vec<Bytes>>> {
        let Some(stream) = self.streams.get(room).map(|s| s.clone()) else {
            return Ok(None);
        };
        let mut s = lock(&stream);
        if &s.epoch != epoch {
            return Ok(None);
        }
        s.history.expire(synctv_core::time::now_ms());
        Ok(s.history.range(since, upto))
    }

    async fn subscribe(&self, room: &RoomId) -> Result<()> {
        lock(&self.stream(room)).pins += 1;
        Ok(())
    }

    async fn unsubscribe(&self, room: &RoomId) -> Result<()> {
        if let Some(stream) = self.streams.get(room).map(|s| s.clone()) {
            let mut s = lock(&stream);
            s.pins = s.pins.saturating_sub(1);
        }
        Ok(())
    }

    fn sweep(&self, now_ms: u64) {
        self.streams.retain(|_, stream| {
            // Someone is using this stream right now (publishing, reading): keep it.
            if Arc::strong_count(stream) > 1 {
                return true;
            }
            let mut s = lock(stream);
            s.history.expire(now_ms);
            s.pins > 0 || !s.history.is_empty()
        });
    }

    fn kind(&self) -> &'static str {
        "local"
    }
}
