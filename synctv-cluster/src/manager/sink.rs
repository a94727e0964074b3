//! What arrives from the broker: other nodes' events, echoes of this node's own, control
//! messages, broadcasts, and the signal that subscriptions were rebuilt. Called from the
//! broker's reader: nothing here waits; repairs are spawned.

use std::sync::Weak;
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;
use synctv_core::ids::{Epoch, RoomId};
use tracing::Instrument;

use super::{ClusterManager, Inner};
use crate::broker::{BrokerSink, Publication, RoomControl};
use crate::hub::Source;

pub(super) struct Sink {
    mgr: Weak<Inner>,
}

impl Sink {
    pub fn new(mgr: &ClusterManager) -> Self {
        Self {
            mgr: std::sync::Arc::downgrade(&mgr.inner),
        }
    }

    fn mgr(&self) -> Option<ClusterManager> {
        self.mgr.upgrade().map(|inner| ClusterManager { inner })
    }
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Broadcast {
    CacheInvalidate {
        key: String,
    },
    CacheClear,
    Kick {
        room: synctv_core::ids::RoomId,
        kick: super::Kick,
    },
    KickUser {
        user: synctv_core::ids::UserId,
    },
}

impl BrokerSink for Sink {
    fn publication(&self, room: &RoomId, p: Publication) {
        let Some(mgr) = self.mgr() else { return };
        mgr.inner.metrics.events_received.increment(1);
        let offer = mgr.inner.hub.offer(room, p, Source::Remote);
        mgr.handle_offer(room, offer);
    }

    fn own_echo(&self, room: &RoomId, epoch: &Epoch, seq: u64) {
        let Some(mgr) = self.mgr() else { return };
        mgr.inner.metrics.events_deduplicated.increment(1);
        if let Some(r) = mgr.inner.hub.get(room) {
            let offer = r.lock().note_echo(epoch, seq);
            mgr.handle_offer(room, offer);
        }
    }

    fn control(&self, room: &RoomId, control: RoomControl) {
        let Some(mgr) = self.mgr() else { return };
        let RoomControl::Resync { epoch } = control;
        let stale = mgr.inner.hub.get(room).is_some_and(|r| {
            let l = r.lock();
            (l.is_live() || l.loading) && l.position.as_ref().is_none_or(|p| p.epoch != epoch)
        });
        if stale {
            mgr.schedule_repair(room, Duration::ZERO, true);
        }
    }

    fn broadcast(&self, payload: Bytes) {
        let Some(mgr) = self.mgr() else { return };
        match serde_json::from_slice::<Broadcast>(&payload) {
            Ok(Broadcast::CacheInvalidate { key }) => mgr.invalidate_local(&key),
            Ok(Broadcast::CacheClear) => mgr.clear_caches_local(),
            Ok(Broadcast::Kick { room, kick }) => {
                mgr.kick_local(&room, &kick);
            }
            Ok(Broadcast::KickUser { user }) => {
                mgr.kick_user_local(&user);
            }
            Err(e) => tracing::debug!(error = %e, "unknown broadcast message ignored"),
        }
    }

    fn resubscribed(&self) {
        let Some(mgr) = self.mgr() else { return };
        // Invalidations may have been missed while the subscription was down.
        mgr.clear_caches_local();
        let span = mgr.inner.span.clone();
        tokio::spawn(async move { mgr.reconcile_all().await }.instrument(span));
    }
}
