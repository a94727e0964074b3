//! The Redis broker: rooms' streams, presence and pub/sub in Redis or a Redis Cluster.
//!
//! - [`keys`]: key and channel names (a room's keys and channel share one hash slot).
//! - [`scripts`]: one Lua script per change (seq, stream, publish, presence, atomically).
//! - [`batch`]: events handed over while earlier calls are in flight go in one call.
//! - [`conn`]: the command connection and error mapping.
//! - [`subscriber`]: the subscription, owned and rebuilt by us; [`canary`]: its liveness.
//! - [`registry`]: the node registry and distributed locks on the same connection.
//!
//! Failover note: Redis replicates asynchronously, so a failover can lose the newest events
//! of a room. Nodes detect it when they reconnect: a room whose stream is behind what the
//! node already delivered starts a new epoch (clients get a fresh snapshot), never a silent
//! gap. See the README's clustering section.

mod batch;
mod canary;
mod conn;
pub mod keys;
mod registry;
mod scripts;
mod subscriber;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use redis::Value;
use synctv_core::config::RedisConfig;
use synctv_core::event::{Envelope, EventDraft, MemberInfo, envelope_head};
use synctv_core::ids::{Epoch, NodeId, RoomId, UserId};
use tokio_util::sync::CancellationToken;

use crate::broker::{
    Broker, BrokerHealth, BrokerSink, EventMeta, HistoryRead, PresenceJoin, Publication, RoomPoint,
    StreamPosition,
};
use crate::dedup::MessageDeduplicator;
use crate::history::HistoryLimits;
use crate::metrics::ClusterMetrics;
use crate::{Error, Result};

use batch::Batcher;
use conn::Commands;
use keys::{Keys, RoomKeys};
use scripts::Scripts;
use subscriber::Subscriber;

pub struct RedisBroker {
    cmds: Commands,
    batcher: Batcher,
    keys: Keys,
    scripts: Scripts,
    node: NodeId,
    cluster: bool,
    history: HistoryLimits,
    meta_ttl_ms: u64,
    subscriber: Arc<Subscriber>,
    metrics: ClusterMetrics,
    stop: CancellationToken,
}

impl RedisBroker {
    /// Connect the command connection (the subscription connects in `start`). Fails when
    /// Redis cannot be reached.
    pub async fn connect(
        cfg: &RedisConfig,
        history: HistoryLimits,
        node: NodeId,
        dedup: Arc<MessageDeduplicator>,
        metrics: ClusterMetrics,
    ) -> Result<RedisBroker> {
        let mut cmds = conn::connect_commands(cfg).await.map_err(|e| {
            Error::Unavailable(format!("cannot connect to Redis at {}: {e}", cfg.url))
        })?;
        let pong: String = redis::cmd("PING")
            .query_async(&mut cmds)
            .await
            .map_err(|e| {
                Error::Unavailable(format!("Redis at {} does not answer: {e}", cfg.url))
            })?;
        tracing::debug!(reply = pong, "Redis reachable");
        let keys = Keys::new(&cfg.key_prefix);
        let stop = CancellationToken::new();
        let subscriber = Arc::new(Subscriber::new(
            cfg,
            keys.clone(),
            node.clone(),
            dedup,
            metrics.clone(),
            stop.clone(),
        ));
        let scripts = Scripts::new();
        let batcher = Batcher::start(
            cmds.clone(),
            scripts.publish.clone(),
            batch::Common {
                max_len: history.size,
                stream_ttl_ms: history.ttl_ms,
                meta_ttl_ms: cfg.meta_ttl_secs * 1000,
                publish_cmd: if cfg.cluster_mode {
                    "SPUBLISH"
                } else {
                    "PUBLISH"
                },
                cluster: cfg.cluster_mode,
            },
            metrics.redis_errors.clone(),
        );
        Ok(RedisBroker {
            cmds,
            batcher,
            keys,
            scripts,
            node,
            cluster: cfg.cluster_mode,
            history,
            meta_ttl_ms: cfg.meta_ttl_secs * 1000,
            subscriber,
            metrics,
            stop,
        })
    }

    fn publish_cmd(&self) -> &'static str {
        if self.cluster { "SPUBLISH" } else { "PUBLISH" }
    }

    fn err(&self, e: redis::RedisError) -> Error {
        conn::map_err(e, &self.metrics.redis_errors)
    }

    /// An event-appending script call with its common keys and arguments.
    fn invocation<'a>(
        &self,
        script: &'a redis::Script,
        k: &RoomKeys,
    ) -> redis::ScriptInvocation<'a> {
        let mut inv = script.prepare_invoke();
        inv.key(&k.meta)
            .key(&k.log)
            .key(&k.channel)
            .arg(Epoch::random().as_str())
            .arg(self.history.size)
            .arg(self.history.ttl_ms.max(1))
            .arg(self.meta_ttl_ms)
            .arg(self.publish_cmd());
        inv
    }

    async fn run<T: redis::FromRedisValue>(&self, inv: &redis::ScriptInvocation<'_>) -> Result<T> {
        let mut c = self.cmds.clone();
        inv.invoke_async(&mut c).await.map_err(|e| self.err(e))
    }

    fn presence_invocation<'a>(
        &self,
        script: &'a redis::Script,
        room: &RoomId,
        node: &NodeId,
    ) -> redis::ScriptInvocation<'a> {
        let k = self.keys.room(room);
        let mut inv = self.invocation(script, &k);
        inv.key(&k.presence)
            .key(&k.members)
            .key(self.keys.room_node(room, node));
        inv
    }
}

fn decode_envelopes(values: Vec<Vec<u8>>) -> Result<Vec<Publication>> {
    values
        .iter()
        .map(|v| {
            Envelope::decode(v)
                .map(Publication::from_envelope)
                .map_err(|e| Error::Broker(format!("undecodable envelope: {e}")))
        })
        .collect()
}

fn int(v: &Value) -> u64 {
    match v {
        Value::Int(i) => (*i).max(0) as u64,
        Value::BulkString(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
        Value::SimpleString(s) => s.clone(),
        _ => String::new(),
    }
}

/// A flat `[k1, v1, k2, v2, ...]` reply (HGETALL inside a script), or a RESP3 map.
fn pairs(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::Array(items) => items
            .chunks(2)
            .filter_map(|kv| match kv {
                [k, v] => Some((text(k), text(v))),
                _ => None,
            })
            .collect(),
        Value::Map(items) => items.iter().map(|(k, v)| (text(k), text(v))).collect(),
        _ => Vec::new(),
    }
}

fn counts(v: &Value) -> HashMap<UserId, u32> {
    pairs(v)
        .into_iter()
        .map(|(u, n)| (UserId::from(u), n.parse::<i64>().unwrap_or(0).max(0) as u32))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[async_trait]
impl Broker for RedisBroker {
    async fn start(&self, sink: Arc<dyn BrokerSink>) -> Result<()> {
        self.subscriber.start(sink, self.cmds.clone()).await
    }

    async fn close(&self) {
        self.stop.cancel();
    }

    async fn publish(&self, room: &RoomId, draft: &EventDraft) -> Result<Publication> {
        let member = match &*draft.event {
            synctv_core::event::RoomEvent::MemberUpdated(u) => {
                Some((u.user_id.to_string(), u.info().to_json()))
            }
            _ => None,
        };
        let (seq, epoch) = self
            .batcher
            .publish(batch::Job {
                keys: self.keys.room(room),
                head: envelope_head(&draft.origin_node, &draft.event_id, draft.ts_ms),
                event_json: draft.event_json.clone(),
                member,
            })
            .await?;
        Ok(Publication::of(draft, seq, Epoch::from(epoch)))
    }

    async fn join(
        &self,
        room: &RoomId,
        member: &MemberInfo,
        draft: &EventDraft,
    ) -> Result<PresenceJoin> {
        let mut inv = self.presence_invocation(&self.scripts.join, room, &self.node);
        inv.arg(envelope_head(
            &draft.origin_node,
            &draft.event_id,
            draft.ts_ms,
        ))
        .arg(&draft.event_json[..])
        .arg(member.user_id.as_str())
        .arg(member.to_json());
        let reply: Vec<Value> = self.run(&inv).await?;
        let seq = reply.first().map_or(0, int);
        let epoch = Epoch::from(reply.get(1).map(text).unwrap_or_default());
        Ok(PresenceJoin {
            event: (seq > 0).then(|| Publication::of(draft, seq, epoch)),
            counts: reply.get(2).map(counts).unwrap_or_default(),
        })
    }

    async fn leave(
        &self,
        room: &RoomId,
        user: &UserId,
        meta: &EventMeta,
    ) -> Result<Option<Publication>> {
        let mut inv = self.presence_invocation(&self.scripts.leave, room, &self.node);
        inv.arg(meta.origin.as_str())
            .arg(meta.event_id.as_str())
            .arg(meta.ts_ms)
            .arg(user.as_str());
        let envs: Vec<Vec<u8>> = self.run(&inv).await?;
        Ok(decode_envelopes(envs)?.into_iter().next())
    }

    async fn sync_presence(
        &self,
        room: &RoomId,
        local: &[(MemberInfo, u32)],
        meta: &EventMeta,
    ) -> Result<Vec<Publication>> {
        let mut inv = self.presence_invocation(&self.scripts.sync, room, &self.node);
        inv.arg(meta.origin.as_str())
            .arg(meta.event_id.as_str())
            .arg(meta.ts_ms);
        for (m, n) in local {
            inv.arg(m.user_id.as_str()).arg(*n).arg(m.to_json());
        }
        decode_envelopes(self.run(&inv).await?)
    }

    async fn drop_node(
        &self,
        room: &RoomId,
        node: &NodeId,
        meta: &EventMeta,
    ) -> Result<Vec<Publication>> {
        let mut inv = self.presence_invocation(&self.scripts.drop_node, room, node);
        inv.arg(meta.origin.as_str())
            .arg(meta.event_id.as_str())
            .arg(meta.ts_ms);
        decode_envelopes(self.run(&inv).await?)
    }

    async fn load_point(&self, room: &RoomId) -> Result<RoomPoint> {
        let k = self.keys.room(room);
        let mut inv = self.scripts.load_point.prepare_invoke();
        inv.key(&k.meta)
            .key(&k.log)
            .key(&k.presence)
            .key(&k.members)
            .arg(Epoch::random().as_str())
            .arg(self.meta_ttl_ms);
        let reply: Vec<Value> = self.run(&inv).await?;
        let position = StreamPosition {
            epoch: Epoch::from(reply.first().map(text).unwrap_or_default()),
            seq: reply.get(1).map_or(0, int),
        };
        let totals = reply.get(2).map(counts).unwrap_or_default();
        let members = reply
            .get(3)
            .map(pairs)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(u, json)| {
                let m: MemberInfo = serde_json::from_str(&json).ok()?;
                let n = totals.get(&UserId::from(u)).copied()?;
                Some((m, n))
            })
            .collect();
        Ok(RoomPoint { position, members })
    }

    async fn read(&self, room: &RoomId, since: u64, upto: Option<u64>) -> Result<HistoryRead> {
        let k = self.keys.room(room);
        let mut inv = self.scripts.read.prepare_invoke();
        inv.key(&k.meta)
            .key(&k.log)
            .arg(since.min(i64::MAX as u64))
            .arg(upto.map(|u| u.to_string()).unwrap_or_default());
        let reply: Vec<Value> = self.run(&inv).await?;
        let position = StreamPosition {
            epoch: Epoch::from(reply.first().map(text).unwrap_or_default()),
            seq: reply.get(1).map_or(0, int),
        };
        let upto = upto.unwrap_or(position.seq).min(position.seq);
        let events = match reply.get(2) {
            _ if since >= upto => (since == upto).then(Vec::new),
            Some(Value::Array(entries)) => stream_range(entries, since, upto)?,
            _ => None,
        };
        Ok(HistoryRead { position, events })
    }

    async fn new_epoch(&self, room: &RoomId) -> Result<StreamPosition> {
        let k = self.keys.room(room);
        let mut inv = self.scripts.new_epoch.prepare_invoke();
        inv.key(&k.meta)
            .key(&k.log)
            .key(&k.channel)
            .arg(Epoch::random().as_str())
            .arg(self.meta_ttl_ms)
            .arg(self.publish_cmd());
        let (seq, epoch): (u64, String) = self.run(&inv).await?;
        Ok(StreamPosition {
            seq,
            epoch: Epoch::from(epoch),
        })
    }

    async fn subscribe(&self, room: &RoomId) -> Result<()> {
        self.subscriber
            .subscribe(self.keys.room(room).channel)
            .await
    }

    async fn unsubscribe(&self, room: &RoomId) -> Result<()> {
        self.subscriber
            .unsubscribe(&self.keys.room(room).channel)
            .await;
        Ok(())
    }

    async fn broadcast(&self, payload: &[u8]) -> Result<()> {
        let mut msg = Vec::with_capacity(payload.len() + 40);
        msg.extend_from_slice(self.node.as_str().as_bytes());
        msg.push(b'|');
        msg.extend_from_slice(payload);
        let mut c = self.cmds.clone();
        redis::cmd(self.publish_cmd())
            .arg(self.keys.broadcast())
            .arg(msg)
            .query_async::<Value>(&mut c)
            .await
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    async fn member_count(&self, room: &RoomId) -> Result<usize> {
        let mut c = self.cmds.clone();
        redis::cmd("HLEN")
            .arg(self.keys.room(room).presence)
            .query_async::<usize>(&mut c)
            .await
            .map_err(|e| self.err(e))
    }

    fn health(&self) -> BrokerHealth {
        if self.subscriber.is_connected() && self.subscriber.canaries.is_healthy() {
            BrokerHealth::Ok
        } else {
            BrokerHealth::Failing
        }
    }

    fn sweep(&self, _now_ms: u64) {}

    fn kind(&self) -> &'static str {
        "redis"
    }
}

/// The publications of an XRANGE reply, if it holds exactly `since+1 ..= upto` (`MAXLEN ~`
/// keeps at least the newest N entries: recoverability is judged by the ids returned, never
/// by the stream's length).
fn stream_range(entries: &[Value], since: u64, upto: u64) -> Result<Option<Vec<Publication>>> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, entry) in entries.iter().enumerate() {
        let Value::Array(parts) = entry else {
            return Ok(None);
        };
        let (Some(id), Some(Value::Array(fields))) = (parts.first(), parts.get(1)) else {
            return Ok(None);
        };
        let seq: u64 = text(id)
            .split('-')
            .next()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        if seq != since + 1 + i as u64 {
            return Ok(None);
        }
        let Some(Value::BulkString(env)) = fields.get(1) else {
            return Ok(None);
        };
        let e =
            Envelope::decode(env).map_err(|e| Error::Broker(format!("bad stream entry: {e}")))?;
        out.push(Publication::from_envelope(e));
    }
    Ok((out.len() as u64 == upto - since).then_some(out))
}
