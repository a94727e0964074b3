//! A `BrokerSink` that records everything a node receives, for assertions.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use synctv_cluster::broker::{BrokerSink, Publication, RoomControl};
use synctv_core::ids::{Epoch, RoomId};
use tokio::sync::Notify;

#[derive(Default)]
pub struct Recorder {
    pubs: Mutex<Vec<(RoomId, Publication)>>,
    echoes: Mutex<Vec<(RoomId, u64)>>,
    controls: Mutex<Vec<(RoomId, RoomControl)>>,
    broadcasts: Mutex<Vec<Bytes>>,
    resubscribed: Mutex<usize>,
    changed: Notify,
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    pub fn seqs(&self, room: &RoomId) -> Vec<u64> {
        self.pubs
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r == room)
            .map(|(_, p)| p.seq)
            .collect()
    }

    pub fn publications(&self, room: &RoomId) -> Vec<Publication> {
        self.pubs
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r == room)
            .map(|(_, p)| p.clone())
            .collect()
    }

    pub fn echoes(&self, room: &RoomId) -> Vec<u64> {
        self.echoes
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r == room)
            .map(|(_, s)| *s)
            .collect()
    }

    pub fn controls(&self, room: &RoomId) -> Vec<RoomControl> {
        self.controls
            .lock()
            .unwrap()
            .iter()
            .filter(|(r, _)| r == room)
            .map(|(_, c)| c.clone())
            .collect()
    }

    pub fn broadcasts(&self) -> Vec<Bytes> {
        self.broadcasts.lock().unwrap().clone()
    }

    pub fn resubscriptions(&self) -> usize {
        *self.resubscribed.lock().unwrap()
    }

    /// Wait (at most 10 s) until `done` holds.
    pub async fn wait(&self, what: &str, done: impl Fn(&Recorder) -> bool) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let notified = self.changed.notified();
            if done(self) {
                return;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                assert!(done(self), "timed out waiting for {what}");
                return;
            }
        }
    }

    /// Assert nothing more arrives for `room` for a short while (a negative check: the
    /// broker delivers within milliseconds on loopback).
    pub async fn quiet(&self, room: &RoomId, count: usize) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(self.seqs(room).len(), count, "nothing else arrived");
    }
}

impl BrokerSink for Recorder {
    fn publication(&self, room: &RoomId, p: Publication) {
        self.pubs.lock().unwrap().push((room.clone(), p));
        self.changed.notify_waiters();
    }

    fn own_echo(&self, room: &RoomId, _epoch: &Epoch, seq: u64) {
        self.echoes.lock().unwrap().push((room.clone(), seq));
        self.changed.notify_waiters();
    }

    fn control(&self, room: &RoomId, control: RoomControl) {
        self.controls.lock().unwrap().push((room.clone(), control));
        self.changed.notify_waiters();
    }

    fn broadcast(&self, payload: Bytes) {
        self.broadcasts.lock().unwrap().push(payload);
        self.changed.notify_waiters();
    }

    fn resubscribed(&self) {
        *self.resubscribed.lock().unwrap() += 1;
        self.changed.notify_waiters();
    }
}
