//! The in-process broker: streams and presence live in this process's memory.
//!
//! A [`LocalBus`] holds the streams; each node has a [`LocalBroker`] on it. One node alone
//! (single-node mode) is a bus with one broker; tests put several nodes on one bus to run
//! the broker contract and multi-node scenarios without a network.
//!
//! Each room's stream is behind its own mutex: the seq is assigned, the event retained and
//! handed to every other subscribed node's sink while it is held, so deliveries are in seq
//! order without further coordination. A stream is forgotten once no node subscribes, nobody
//! is online and its history has expired; the next event then starts a new epoch, which
//! tells resuming clients their point is gone. Idle rooms therefore cost no memory.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;
use dashmap::DashMap;
use synctv_core::event::{EventDraft, MemberInfo, RoomEvent};
use synctv_core::ids::{Epoch, NodeId, RoomId, UserId};

use super::presence::{Change, Presence};
use super::{
    Broker, BrokerHealth, BrokerSink, EventMeta, HistoryRead, PresenceJoin, Publication,
    RoomControl, RoomPoint, StreamPosition,
};
use crate::Result;
use crate::history::{History, HistoryLimits};

struct Stream {
    epoch: Epoch,
    seq: u64,
    history: History<Publication>,
    presence: Presence,
    subscribers: HashSet<NodeId>,
}

impl Stream {
    fn position(&self) -> StreamPosition {
        StreamPosition {
            seq: self.seq,
            epoch: self.epoch.clone(),
        }
    }
}

/// Streams shared by the nodes of one process.
#[derive(Clone)]
pub struct LocalBus {
    inner: Arc<BusInner>,
}

struct BusInner {
    streams: DashMap<RoomId, Arc<Mutex<Stream>>>,
    sinks: DashMap<NodeId, Arc<dyn BrokerSink>>,
    limits: HistoryLimits,
    registry: Arc<crate::registry::LocalRegistry>,
    locks: Arc<crate::lock::LocalLocks>,
}

// Stream mutexes are std mutexes: never held across an `.await`.
fn lock(s: &Mutex<Stream>) -> MutexGuard<'_, Stream> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl LocalBus {
    pub fn new(limits: HistoryLimits) -> Self {
        Self {
            inner: Arc::new(BusInner {
                streams: DashMap::new(),
                sinks: DashMap::new(),
                limits,
                registry: Default::default(),
                locks: Default::default(),
            }),
        }
    }

    /// The broker of `node` on this bus.
    pub fn broker(&self, node: NodeId) -> LocalBroker {
        LocalBroker {
            bus: self.clone(),
            node,
        }
    }

    /// Streams held in memory (for tests and metrics).
    pub fn stream_count(&self) -> usize {
        self.inner.streams.len()
    }

    /// The node registry shared by the nodes of this bus.
    pub fn registry(&self) -> Arc<crate::registry::LocalRegistry> {
        self.inner.registry.clone()
    }

    /// The locks shared by the nodes of this bus.
    pub fn locks(&self) -> Arc<crate::lock::LocalLocks> {
        self.inner.locks.clone()
    }

    fn stream(&self, room: &RoomId) -> Arc<Mutex<Stream>> {
        self.inner
            .streams
            .entry(room.clone())
            .or_insert_with(|| {
                Arc::new(Mutex::new(Stream {
                    epoch: Epoch::random(),
                    seq: 0,
                    history: History::new(self.inner.limits),
                    presence: Presence::default(),
                    subscribers: HashSet::new(),
                }))
            })
            .clone()
    }
}

/// One node's handle on a [`LocalBus`].
#[derive(Clone)]
pub struct LocalBroker {
    bus: LocalBus,
    node: NodeId,
}

impl LocalBroker {
    /// A single node alone on its own bus.
    pub fn single(limits: HistoryLimits, node: NodeId) -> Self {
        LocalBus::new(limits).broker(node)
    }

    pub fn bus(&self) -> &LocalBus {
        &self.bus
    }

    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// Append one event (stream lock held) and hand it to the other subscribed nodes.
    fn append(&self, room: &RoomId, s: &mut Stream, draft: &EventDraft) -> Publication {
        s.seq += 1;
        let p = Publication::of(draft, s.seq, s.epoch.clone());
        s.history.push(p.seq, p.ts_ms, p.clone());
        for node in s.subscribers.iter().filter(|n| **n != self.node) {
            if let Some(sink) = self.bus.inner.sinks.get(node) {
                sink.publication(room, p.clone());
            }
        }
        p
    }

    fn append_changes(
        &self,
        room: &RoomId,
        s: &mut Stream,
        changes: Vec<Change>,
        meta: &EventMeta,
    ) -> Vec<Publication> {
        changes
            .into_iter()
            .enumerate()
            .map(|(n, c)| {
                let event = match c {
                    Change::Joined(m) => RoomEvent::MemberJoined(m),
                    Change::Left(m) => RoomEvent::MemberLeft(m),
                };
                self.append(room, s, &meta.draft(event, n))
            })
            .collect()
    }
}

#[async_trait]
impl Broker for LocalBroker {
    async fn start(&self, sink: Arc<dyn BrokerSink>) -> Result<()> {
        self.bus.inner.sinks.insert(self.node.clone(), sink);
        Ok(())
    }

    async fn close(&self) {
        self.bus.inner.sinks.remove(&self.node);
    }

    async fn publish(&self, room: &RoomId, draft: &EventDraft) -> Result<Publication> {
        let stream = self.bus.stream(room);
        let mut s = lock(&stream);
        Ok(self.append(room, &mut s, draft))
    }

    async fn join(
        &self,
        room: &RoomId,
        member: &MemberInfo,
        draft: &EventDraft,
    ) -> Result<PresenceJoin> {
        let stream = self.bus.stream(room);
        let mut s = lock(&stream);
        let first = s.presence.join(&self.node, member);
        let event = first.then(|| self.append(room, &mut s, draft));
        Ok(PresenceJoin {
            event,
            counts: s.presence.counts(),
        })
    }

    async fn leave(
        &self,
        room: &RoomId,
        user: &UserId,
        meta: &EventMeta,
    ) -> Result<Option<Publication>> {
        let stream = self.bus.stream(room);
        let mut s = lock(&stream);
        let left = s.presence.leave(&self.node, user);
        Ok(left.map(|m| self.append(room, &mut s, &meta.draft(RoomEvent::MemberLeft(m), 0))))
    }

    async fn sync_presence(
        &self,
        room: &RoomId,
        local: &[(MemberInfo, u32)],
        meta: &EventMeta,
    ) -> Result<Vec<Publication>> {
        let stream = self.bus.stream(room);
        let mut s = lock(&stream);
        let changes = s.presence.sync(&self.node, local);
        Ok(self.append_changes(room, &mut s, changes, meta))
    }

    async fn drop_node(
        &self,
        room: &RoomId,
        node: &NodeId,
        meta: &EventMeta,
    ) -> Result<Vec<Publication>> {
        let stream = self.bus.stream(room);
        let mut s = lock(&stream);
        let changes = s
            .presence
            .drop_node(node)
            .into_iter()
            .map(Change::Left)
            .collect();
        s.subscribers.remove(node);
        Ok(self.append_changes(room, &mut s, changes, meta))
    }

    async fn load_point(&self, room: &RoomId) -> Result<RoomPoint> {
        let stream = self.bus.stream(room);
        let s = lock(&stream);
        Ok(RoomPoint {
            position: s.position(),
            members: s.presence.members(),
        })
    }

    async fn read(&self, room: &RoomId, since: u64, upto: Option<u64>) -> Result<HistoryRead> {
        let stream = self.bus.stream(room);
        let mut s = lock(&stream);
        s.history.expire(synctv_core::time::now_ms());
        let upto = upto.unwrap_or(s.seq).min(s.seq);
        Ok(HistoryRead {
            position: s.position(),
            events: s.history.range(since, upto),
        })
    }

    async fn new_epoch(&self, room: &RoomId) -> Result<StreamPosition> {
        let stream = self.bus.stream(room);
        let mut s = lock(&stream);
        s.epoch = Epoch::random();
        s.seq = 0;
        s.history = History::new(self.bus.inner.limits);
        let control = RoomControl::Resync {
            epoch: s.epoch.clone(),
        };
        for node in s.subscribers.iter().filter(|n| **n != self.node) {
            if let Some(sink) = self.bus.inner.sinks.get(node) {
                sink.control(room, control.clone());
            }
        }
        Ok(s.position())
    }

    async fn subscribe(&self, room: &RoomId) -> Result<()> {
        lock(&self.bus.stream(room))
            .subscribers
            .insert(self.node.clone());
        Ok(())
    }

    async fn unsubscribe(&self, room: &RoomId) -> Result<()> {
        if let Some(stream) = self.bus.inner.streams.get(room).map(|s| s.clone()) {
            lock(&stream).subscribers.remove(&self.node);
        }
        Ok(())
    }

    async fn broadcast(&self, payload: &[u8]) -> Result<()> {
        let payload = Bytes::copy_from_slice(payload);
        for sink in self.bus.inner.sinks.iter() {
            if *sink.key() != self.node {
                sink.value().broadcast(payload.clone());
            }
        }
        Ok(())
    }

    async fn member_count(&self, room: &RoomId) -> Result<usize> {
        Ok(match self.bus.inner.streams.get(room).map(|s| s.clone()) {
            Some(stream) => lock(&stream).presence.counts().len(),
            None => 0,
        })
    }

    fn health(&self) -> BrokerHealth {
        BrokerHealth::Local
    }

    fn sweep(&self, now_ms: u64) {
        self.bus.inner.streams.retain(|_, stream| {
            // Someone is using this stream right now (publishing, reading): keep it.
            if Arc::strong_count(stream) > 1 {
                return true;
            }
            let mut s = lock(stream);
            s.history.expire(now_ms);
            !s.subscribers.is_empty() || !s.presence.is_empty() || !s.history.is_empty()
        });
    }

    fn kind(&self) -> &'static str {
        "local"
    }
}
