//! The subscription side of the Redis broker, owned by us rather than left to the client
//! library's automatic resubscription.
//!
//! One supervisor task holds the subscription connection (RESP3, pushes delivered through an
//! unbounded channel whose sender never fails): plain Redis gets one multiplexed connection,
//! Redis Cluster a cluster connection on which room channels are `SSUBSCRIBE`d per slot
//! (the library would replay them as one cross-slot command). The set of wanted channels is
//! kept here; after any loss (a `Disconnection` push, a canary that did not come back, an
//! unexpected `sunsubscribe` after a slot moved) the supervisor builds a fresh connection,
//! subscribes everything again and tells the sink, which reconciles every room with its
//! stream.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionLike, MultiplexedConnection};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, RedisResult,
    Value,
};
use synctv_core::config::RedisConfig;
use synctv_core::ids::{NodeId, RoomId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::canary::Canaries;
use super::conn::{Commands, timeout_error, timeouts};
use super::keys::{Keys, slot};
use crate::broker::{BrokerSink, Publication, RoomControl};
use crate::dedup::MessageDeduplicator;
use crate::metrics::ClusterMetrics;

/// A push sender that never fails: an error from it could stop the library's reader.
struct Pushes(mpsc::UnboundedSender<PushInfo>);

impl redis::aio::AsyncPushSender for Pushes {
    fn send(&self, info: PushInfo) -> Result<(), redis::aio::SendError> {
        let _ = self.0.send(info);
        Ok(())
    }
}

#[derive(Clone)]
enum SubConn {
    Plain(MultiplexedConnection),
    Cluster(ClusterConnection),
}

/// Channels per SUBSCRIBE command when resubscribing many rooms.
const CHUNK: usize = 256;

impl SubConn {
    async fn subscribe(&self, channels: &[String], limit: Duration) -> RedisResult<()> {
        if channels.is_empty() {
            return Ok(());
        }
        let work = async {
            match self {
                SubConn::Plain(c) => {
                    for chunk in channels.chunks(CHUNK) {
                        c.clone().subscribe(chunk).await?;
                    }
                    Ok(())
                }
                SubConn::Cluster(c) => {
                    // One SSUBSCRIBE per slot: a command may only name channels of one slot.
                    let mut by_slot: BTreeMap<u16, Vec<String>> = BTreeMap::new();
                    for ch in channels {
                        by_slot.entry(slot(ch)).or_default().push(ch.clone());
                    }
                    let tasks = by_slot.into_values().map(|group| {
                        let mut c = c.clone();
                        tokio::spawn(async move { c.ssubscribe(group).await })
                    });
                    let results: Vec<_> = futures_util::stream::iter(tasks)
                        .buffer_unordered(64)
                        .collect()
                        .await;
                    for r in results {
                        r.map_err(|_| timeout_error("subscribing"))??;
                    }
                    Ok(())
                }
            }
        };
        tokio::time::timeout(limit, work)
            .await
            .map_err(|_| timeout_error("subscribing"))?
    }

    async fn unsubscribe(&self, channel: &str) -> RedisResult<()> {
        match self {
            SubConn::Plain(c) => c.clone().unsubscribe(channel).await,
            SubConn::Cluster(c) => c.clone().sunsubscribe(channel).await,
        }
    }

    /// Send a raw command on the subscription connection (cluster topology queries).
    async fn query(&self, cmd: &redis::Cmd) -> RedisResult<Value> {
        match self {
            SubConn::Plain(c) => c.clone().req_packed_command(cmd).await,
            SubConn::Cluster(c) => c.clone().req_packed_command(cmd).await,
        }
    }
}

pub(super) struct Subscriber {
    cfg: RedisConfig,
    keys: Keys,
    node: NodeId,
    wanted: Mutex<HashSet<String>>,
    current: Mutex<Option<SubConn>>,
    connected: AtomicBool,
    pub canaries: Arc<Canaries>,
    dedup: Arc<MessageDeduplicator>,
    metrics: ClusterMetrics,
    sink: OnceLock<Arc<dyn BrokerSink>>,
    stop: CancellationToken,
}

impl Subscriber {
    pub fn new(
        cfg: &RedisConfig,
        keys: Keys,
        node: NodeId,
        dedup: Arc<MessageDeduplicator>,
        metrics: ClusterMetrics,
        stop: CancellationToken,
    ) -> Self {
        Self {
            cfg: cfg.clone(),
            keys,
            node,
            wanted: Mutex::new(HashSet::new()),
            current: Mutex::new(None),
            connected: AtomicBool::new(false),
            canaries: Arc::new(Canaries::new(cfg.canary_timeout_ms)),
            dedup,
            metrics,
            sink: OnceLock::new(),
            stop,
        }
    }

    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    fn current(&self) -> Option<SubConn> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_current(&self, c: Option<SubConn>) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = c;
    }

    fn wanted(&self) -> Vec<String> {
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Want `channel`; subscribed now if connected (confirmed before returning).
    pub async fn subscribe(&self, channel: String) -> Result<(), crate::Error> {
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(channel.clone());
        let Some(conn) = self.current() else {
            return Err(crate::Error::Unavailable(
                "the Redis subscription is reconnecting".into(),
            ));
        };
        let (_, limit) = timeouts(&self.cfg);
        conn.subscribe(std::slice::from_ref(&channel), limit)
            .await
            .map_err(|e| super::conn::map_err(e, &self.metrics.redis_errors))
    }

    pub async fn unsubscribe(&self, channel: &str) {
        self.wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(channel);
        if let Some(conn) = self.current() {
            let _ = conn.unsubscribe(channel).await;
        }
    }

    async fn connect(&self) -> RedisResult<(SubConn, mpsc::UnboundedReceiver<PushInfo>)> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (connect, response) = timeouts(&self.cfg);
        let urls = self.cfg.urls();
        let conn = if self.cfg.cluster_mode {
            let client = ClusterClientBuilder::new(urls)
                .use_protocol(ProtocolVersion::RESP3)
                .push_sender(Pushes(tx))
                .connection_timeout(connect)
                .response_timeout(response)
                .retries(1)
                .build()?;
            let c = tokio::time::timeout(connect * 2, client.get_async_connection())
                .await
                .map_err(|_| timeout_error("connecting the subscription"))??;
            SubConn::Cluster(c)
        } else {
            let info = urls[0].as_str().into_connection_info()?;
            let settings = info
                .redis_settings()
                .clone()
                .set_protocol(ProtocolVersion::RESP3);
            let client = redis::Client::open(info.set_redis_settings(settings))?;
            let config = AsyncConnectionConfig::new()
                .set_push_sender(Pushes(tx))
                .set_connection_timeout(Some(connect))
                .set_response_timeout(Some(response));
            let c = tokio::time::timeout(
                connect * 2,
                client.get_multiplexed_async_connection_with_config(&config),
            )
            .await
            .map_err(|_| timeout_error("connecting the subscription"))??;
            SubConn::Plain(c)
        };
        Ok((conn, rx))
    }

    /// The canary channels: one per node in a Redis Cluster (one slot of each primary's
    /// ranges), one in plain Redis.
    async fn canary_channels(&self, conn: &SubConn) -> RedisResult<Vec<String>> {
        if !self.cfg.cluster_mode {
            return Ok(vec![self.keys.canary("c", &self.node)]);
        }
        let slots = conn
            .query(&redis::cmd("CLUSTER").arg("SLOTS").clone())
            .await?;
        let mut by_primary: BTreeMap<String, (u16, u16)> = BTreeMap::new();
        if let Value::Array(ranges) = slots {
            for r in ranges {
                if let Value::Array(parts) = r
                    && let [
                        Value::Int(start),
                        Value::Int(end),
                        Value::Array(primary),
                        ..,
                    ] = parts.as_slice()
                {
                    let addr = format!("{primary:?}");
                    by_primary
                        .entry(addr)
                        .or_insert((*start as u16, *end as u16));
                }
            }
        }
        Ok(by_primary
            .values()
            .map(|&(start, end)| {
                let tag = (0u32..)
                    .map(|i| format!("c{i}"))
                    .find(|t| (start..=end).contains(&slot(t)))
                    .expect("every slot range has a tag");
                self.keys.canary(&tag, &self.node)
            })
            .collect())
    }

    /// Connect, subscribe everything, return once the first canary came back. Fails (for a
    /// clear refusal to start) when Redis cannot be reached.
    pub async fn start(
        self: &Arc<Self>,
        sink: Arc<dyn BrokerSink>,
        cmds: Commands,
    ) -> crate::Result<()> {
        let _ = self.sink.set(sink);
        let (conn, rx) = self
            .connect()
            .await
            .map_err(|e| crate::Error::Unavailable(format!("Redis subscription: {e}")))?;
        self.establish(&conn)
            .await
            .map_err(|e| crate::Error::Unavailable(format!("Redis subscription: {e}")))?;
        let me = self.clone();
        tokio::spawn(async move { me.supervise(Some((conn, rx))).await }.in_current_span());
        tokio::spawn(
            super::canary::publish_loop(
                self.canaries.clone(),
                cmds,
                self.cfg.clone(),
                self.stop.clone(),
            )
            .in_current_span(),
        );
        let deadline = Duration::from_millis(self.cfg.canary_timeout_ms);
        if !self.canaries.wait_ok(deadline).await {
            self.stop.cancel();
            return Err(crate::Error::Unavailable(
                "the Redis canary did not come back through the subscription".into(),
            ));
        }
        Ok(())
    }

    /// Subscribe the base channels and every wanted room on a new connection.
    async fn establish(&self, conn: &SubConn) -> RedisResult<()> {
        let canaries = self.canary_channels(conn).await?;
        self.canaries.reset(&canaries);
        let (_, limit) = timeouts(&self.cfg);
        let mut base = canaries;
        base.push(self.keys.broadcast());
        conn.subscribe(&base, limit).await?;
        // Publish the connection first: a room subscribed from now on is subscribed on it
        // directly, and the snapshot of wanted rooms below cannot miss it.
        self.set_current(Some(conn.clone()));
        let wanted = self.wanted();
        let many = limit * (1 + (wanted.len() / CHUNK) as u32);
        if let Err(e) = conn.subscribe(&wanted, many).await {
            self.set_current(None);
            return Err(e);
        }
        self.connected.store(true, Ordering::Release);
        Ok(())
    }

    async fn supervise(
        self: Arc<Self>,
        mut first: Option<(SubConn, mpsc::UnboundedReceiver<PushInfo>)>,
    ) {
        let mut backoff = Duration::from_millis(self.cfg.reconnect_min_ms);
        let max = Duration::from_millis(self.cfg.reconnect_max_ms);
        loop {
            let (conn, rx) = match first.take() {
                Some(c) => c,
                None => {
                    let attempt = async {
                        let (conn, rx) = self.connect().await?;
                        self.establish(&conn).await?;
                        RedisResult::Ok((conn, rx))
                    };
                    match attempt.await {
                        Ok(c) => {
                            tracing::info!("Redis subscription re-established");
                            backoff = Duration::from_millis(self.cfg.reconnect_min_ms);
                            if let Some(sink) = self.sink.get() {
                                sink.resubscribed();
                            }
                            c
                        }
                        Err(e) => {
                            self.metrics.redis_errors.increment(1);
                            tracing::debug!(error = %e, "Redis subscription: reconnect failed");
                            if self.sleep(backoff).await {
                                return;
                            }
                            backoff = (backoff * 2).min(max);
                            continue;
                        }
                    }
                }
            };
            let lost = self.read(&conn, rx).await;
            self.connected.store(false, Ordering::Release);
            self.set_current(None);
            drop(conn);
            match lost {
                None => return, // stopping
                Some(why) => {
                    self.metrics.redis_errors.increment(1);
                    tracing::warn!(reason = why, "Redis subscription lost; reconnecting");
                }
            }
            if self.sleep(backoff).await {
                return;
            }
        }
    }

    /// Sleep, or return true when stopping.
    async fn sleep(&self, d: Duration) -> bool {
        let jitter = Duration::from_millis(rand_below(d.as_millis() as u64 / 4 + 1));
        tokio::select! {
            _ = self.stop.cancelled() => true,
            _ = tokio::time::sleep(d + jitter) => false,
        }
    }

    /// Handle pushes until the connection is lost (the reason) or the broker stops (`None`).
    async fn read(
        &self,
        conn: &SubConn,
        mut rx: mpsc::UnboundedReceiver<PushInfo>,
    ) -> Option<&'static str> {
        let mut watchdog =
            tokio::time::interval(Duration::from_millis(self.cfg.canary_interval_ms));
        watchdog.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = self.stop.cancelled() => return None,
                push = rx.recv() => {
                    let Some(push) = push else { return Some("connection closed") };
                    match push.kind {
                        PushKind::Message | PushKind::SMessage => self.dispatch(push.data),
                        PushKind::Disconnection => return Some("disconnected"),
                        PushKind::SUnsubscribe | PushKind::Unsubscribe => {
                            let ch = channel_of(&push.data);
                            if ch.as_deref().is_some_and(|c| self.keys.is_canary(c)) {
                                // A canary's slot moved: pick canaries for the new layout.
                                return Some("the cluster's slots moved");
                            }
                            if let Some(ch) = ch
                                && self.wanted.lock().unwrap_or_else(|p| p.into_inner()).contains(&ch)
                            {
                                // Redis dropped a subscription we still want (a slot moved).
                                tracing::info!(channel = ch, "subscription dropped by Redis; resubscribing");
                                let (_, limit) = timeouts(&self.cfg);
                                if conn.subscribe(std::slice::from_ref(&ch), limit).await.is_err() {
                                    return Some("resubscribing a moved channel failed");
                                }
                                if let Some(sink) = self.sink.get() {
                                    sink.resubscribed();
                                }
                            }
                        }
                        _ => {}
                    }
                }
                _ = watchdog.tick() => {
                    if !self.canaries.is_ok() {
                        return Some("the canary did not come back in time");
                    }
                }
            }
        }
    }

    fn dispatch(&self, data: Vec<Value>) {
        let (Some(Value::BulkString(ch)), Some(Value::BulkString(payload))) =
            (data.first(), data.get(1))
        else {
            return;
        };
        let Ok(channel) = std::str::from_utf8(ch) else {
            return;
        };
        let Some(sink) = self.sink.get() else { return };
        if let Some(room) = self.keys.room_of_channel(channel) {
            self.metrics.pubsub_room.increment(1);
            self.room_message(sink.as_ref(), &RoomId::from(room), payload);
        } else if self.keys.is_canary(channel) {
            self.metrics.pubsub_canary.increment(1);
            self.canaries.received(channel);
        } else if channel == self.keys.broadcast() {
            self.metrics.pubsub_broadcast.increment(1);
            // `<origin node>|<message>`; a node ignores its own.
            if let Some(i) = payload.iter().position(|&b| b == b'|')
                && &payload[..i] != self.node.as_str().as_bytes()
            {
                sink.broadcast(bytes::Bytes::copy_from_slice(&payload[i + 1..]));
            }
        }
    }

    fn room_message(&self, sink: &dyn BrokerSink, room: &RoomId, payload: &[u8]) {
        #[derive(serde::Deserialize)]
        struct Head<'a> {
            #[serde(default)]
            seq: u64,
            #[serde(borrow, default)]
            epoch: Option<&'a str>,
            #[serde(borrow, default)]
            message_id: Option<&'a str>,
            #[serde(borrow, default)]
            node_id: Option<&'a str>,
            #[serde(borrow, default)]
            control: Option<&'a str>,
        }
        let head: Head = match serde_json::from_slice(payload) {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(room = %room, error = %e, "unreadable message on a room channel");
                return;
            }
        };
        if head.control == Some("resync") {
            if let Some(epoch) = head.epoch {
                sink.control(
                    room,
                    RoomControl::Resync {
                        epoch: epoch.into(),
                    },
                );
            }
            return;
        }
        // This node's own event coming back: recognized by id (the deduplicator), or by
        // origin for events a script composed on this node's behalf.
        if let (Some(id), Some(epoch)) = (head.message_id, head.epoch)
            && (self.dedup.is_own(id, synctv_core::time::now_ms())
                || head.node_id == Some(self.node.as_str()))
        {
            sink.own_echo(room, &epoch.into(), head.seq);
            return;
        }
        match synctv_core::event::Envelope::decode(payload) {
            Ok(e) => sink.publication(room, Publication::from_envelope(e)),
            Err(e) => tracing::warn!(room = %room, error = %e, "undecodable envelope"),
        }
    }
}

fn channel_of(data: &[Value]) -> Option<String> {
    match data.first() {
        Some(Value::BulkString(b)) => String::from_utf8(b.clone()).ok(),
        _ => None,
    }
}

fn rand_below(n: u64) -> u64 {
    (uuid::Uuid::new_v4().as_u128() as u64) % n.max(1)
}
