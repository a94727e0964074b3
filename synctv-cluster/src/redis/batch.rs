//! Publishing in batches: the events publishers hand over while earlier script calls are in
//! flight go to Redis together, as one call of the publish script per batch (per hash slot in
//! a Redis Cluster, where one script's keys must share a slot).
//!
//! Why: a script call costs Redis more in the call itself (parsing, script lookup, entering
//! Lua) than in the five commands it runs for one event, so one call for many events raises
//! what one Redis core publishes. Nothing waits to fill a batch: a lone event goes at once,
//! and batches only form while [`MAX_IN_FLIGHT`] calls are outstanding, so latency at low
//! load is one channel hop more and throughput under load grows with the batch.
//!
//! Each event still gets its own seq, appended in the order it was handed over; a failed
//! call fails every event of its batch (none of them was acknowledged).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use redis::Script;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::conn::{self, Commands};
use super::keys::{RoomKeys, slot};
use crate::{Error, Result};

/// Script calls outstanding at once; further events wait and form the next batch.
pub const MAX_IN_FLIGHT: usize = 8;
/// Events in one script call at most.
pub const MAX_BATCH: usize = 64;

/// One event to append and publish.
pub struct Job {
    pub keys: RoomKeys,
    pub head: String,
    pub event_json: Bytes,
    /// A member whose stored member JSON is replaced if they are online (`member_updated`).
    pub member: Option<(String, String)>,
}

struct Queued {
    job: Job,
    reply: oneshot::Sender<Result<(u64, String)>>,
}

/// What every call carries: the fresh epoch for a room whose log was lost, stream MAXLEN,
/// stream TTL, meta TTL and the publish command.
#[derive(Clone)]
pub struct Common {
    pub max_len: usize,
    pub stream_ttl_ms: u64,
    pub meta_ttl_ms: u64,
    pub publish_cmd: &'static str,
    pub cluster: bool,
}

#[derive(Clone)]
pub struct Batcher {
    tx: mpsc::UnboundedSender<Queued>,
}

impl Batcher {
    /// Start the batching task; it ends when every `Batcher` clone is dropped.
    pub fn start(
        cmds: Commands,
        script: Script,
        common: Common,
        errors: metrics::Counter,
    ) -> Batcher {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(drain(rx, cmds, Arc::new(script), common, errors));
        Batcher { tx }
    }

    /// Append and publish one event: its seq and the room's epoch.
    pub async fn publish(&self, job: Job) -> Result<(u64, String)> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Queued { job, reply })
            .map_err(|_| Error::Unavailable("the broker is closed".into()))?;
        rx.await
            .map_err(|_| Error::Unavailable("the broker is closed".into()))?
    }
}

async fn drain(
    mut rx: mpsc::UnboundedReceiver<Queued>,
    cmds: Commands,
    script: Arc<Script>,
    common: Common,
    errors: metrics::Counter,
) {
    let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
    let mut jobs = Vec::with_capacity(MAX_BATCH);
    loop {
        // Wait for a free call slot first: while none is free, events queue up.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        if rx.recv_many(&mut jobs, MAX_BATCH).await == 0 {
            return;
        }
        let mut batches = if common.cluster {
            by_slot(std::mem::take(&mut jobs))
        } else {
            vec![std::mem::take(&mut jobs)]
        };
        // The first batch takes the permit held; more (other slots) take their own.
        let first = batches.pop().unwrap_or_default();
        let call = |batch: Vec<Queued>, permit| {
            let (cmds, script, common, errors) =
                (cmds.clone(), script.clone(), common.clone(), errors.clone());
            tokio::spawn(async move {
                run(cmds, &script, &common, &errors, batch).await;
                drop(permit);
            });
        };
        call(first, permit);
        for batch in batches {
            let Ok(permit) = permits.clone().acquire_owned().await else {
                return;
            };
            call(batch, permit);
        }
    }
}

fn by_slot(jobs: Vec<Queued>) -> Vec<Vec<Queued>> {
    let mut groups: HashMap<u16, Vec<Queued>> = HashMap::new();
    for q in jobs {
        groups.entry(slot(&q.job.keys.meta)).or_default().push(q);
    }
    groups.into_values().collect()
}

async fn run(
    mut cmds: Commands,
    script: &Script,
    common: &Common,
    errors: &metrics::Counter,
    batch: Vec<Queued>,
) {
    let mut inv = script.prepare_invoke();
    inv.arg(synctv_core::ids::Epoch::random().as_str())
        .arg(common.max_len)
        .arg(common.stream_ttl_ms.max(1))
        .arg(common.meta_ttl_ms)
        .arg(common.publish_cmd);
    for Queued { job, .. } in &batch {
        let k = &job.keys;
        inv.key(&k.meta).key(&k.log).key(&k.channel).key(&k.members);
        let (user, member) = job
            .member
            .as_ref()
            .map_or(("", ""), |(u, m)| (u.as_str(), m.as_str()));
        inv.arg(&job.head)
            .arg(&job.event_json[..])
            .arg(user)
            .arg(member);
    }
    let reply: Result<Vec<redis::Value>> = inv
        .invoke_async(&mut cmds)
        .await
        .map_err(|e| conn::map_err(e, errors));
    match reply {
        Ok(values) if values.len() == batch.len() * 2 => {
            for (q, pair) in batch.into_iter().zip(values.chunks(2)) {
                let _ = q
                    .reply
                    .send(Ok((super::int(&pair[0]), super::text(&pair[1]))));
            }
        }
        Ok(values) => {
            let msg = format!(
                "publish script answered {} values for {} events",
                values.len(),
                batch.len()
            );
            for q in batch {
                let _ = q.reply.send(Err(Error::Broker(msg.clone())));
            }
        }
        Err(e) => {
            let (unavailable, msg) = match e {
                Error::Unavailable(m) => (true, m),
                Error::Broker(m) => (false, m),
                other => (false, other.to_string()),
            };
            for q in batch {
                let err = if unavailable {
                    Error::Unavailable(msg.clone())
                } else {
                    Error::Broker(msg.clone())
                };
                let _ = q.reply.send(Err(err));
            }
        }
    }
}
