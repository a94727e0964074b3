//! Prometheus metrics of one app instance. The recorder is owned by the app (not installed
//! globally), so several apps in one process (tests) keep separate numbers. Hot-path metrics
//! are registered once and kept as handles: updating one is an atomic add.
//!
//! Names follow Prometheus conventions: counters end in `_total`, durations in `_seconds`.

use std::time::Duration;

use axum::http::Method;
use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Metadata, Recorder, SharedString};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use std::fmt::Write as _;
use std::sync::Arc;

use synctv_cluster::connection::ConnectionManager;
use synctv_cluster::metrics::{ClusterMetrics, EVENT_TYPES, EventsPublished, PerRoomCounter};
use synctv_core::config::MetricsConfig;
use synctv_core::ids::RoomId;

use crate::listener::ListenerMetrics;

const SYNC_DRIFT: &str = "synctv_sync_drift_seconds";

static META: Metadata<'static> =
    Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

pub struct ApiMetrics {
    recorder: Arc<PrometheusRecorder>,
    /// `process_cpu_seconds_total`, `process_resident_memory_bytes`, `process_open_fds`...,
    /// read at each scrape.
    process: metrics_process::Collector,
    handle: PrometheusHandle,
    /// Handles updated by the cluster layer (connections, events, deliveries).
    pub cluster: ClusterMetrics,
    /// Client frames received over WebSocket.
    pub frames_received: Counter,
    /// Drift from the room's expected position that clients report on `ping`, absolute.
    pub sync_drift: Histogram,
    /// Handles updated by the HTTP listener (connections, refusals, timeouts).
    pub listener: ListenerMetrics,
}

impl ApiMetrics {
    /// The metrics of node `node` (every series carries `node="<name>"`).
    pub fn new(node: &str, cfg: &MetricsConfig) -> Self {
        let recorder = PrometheusBuilder::new()
            .add_global_label("node", node)
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .expect("bucket list is not empty")
            // Sync quality: good clients sit in the first few buckets, a seek is > 1 s.
            .set_buckets_for_metric(
                Matcher::Full(SYNC_DRIFT.into()),
                &[
                    0.005, 0.01, 0.02, 0.04, 0.07, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0,
                ],
            )
            .expect("bucket list is not empty")
            .build_recorder();
        let recorder = Arc::new(recorder);
        let handle = recorder.handle();
        let counter = |name: &'static str, help: &'static str| {
            recorder.describe_counter(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(help),
            );
            recorder.register_counter(&Key::from_static_name(name), &META)
        };
        let gauge = |name: &'static str, help: &'static str| {
            recorder.describe_gauge(
                KeyName::from_const_str(name),
                None,
                SharedString::const_str(help),
            );
            recorder.register_gauge(&Key::from_static_name(name), &META)
        };
        let histogram = |name: &'static str, help: &'static str| {
            recorder.describe_histogram(
                KeyName::from_const_str(name),
                Some(metrics::Unit::Seconds),
                SharedString::const_str(help),
            );
            recorder.register_histogram(&Key::from_static_name(name), &META)
        };
        recorder.describe_counter(
            KeyName::from_const_str("synctv_redis_pubsub_messages_total"),
            None,
            SharedString::const_str("Messages received on Redis subscriptions, by channel kind."),
        );
        let pubsub = |kind: &'static str| {
            recorder.register_counter(
                &Key::from_parts(
                    "synctv_redis_pubsub_messages_total",
                    vec![Label::new("channel", kind)],
                ),
                &META,
            )
        };
        recorder.describe_counter(
            KeyName::from_const_str("synctv_events_published_total"),
            None,
            SharedString::const_str("Room events this node published, by type."),
        );
        let by_type = EVENT_TYPES
            .iter()
            .map(|&t| {
                let key =
                    Key::from_parts("synctv_events_published_total", vec![Label::new("type", t)]);
                (t, recorder.register_counter(&key, &META))
            })
            .collect();
        let per_room: Option<PerRoomCounter> = cfg.per_room_events.then(|| {
            let rec = recorder.clone();
            let make: PerRoomCounter = Arc::new(move |room: &RoomId, kind: &'static str| {
                let labels = vec![
                    Label::new("room", room.to_string()),
                    Label::new("type", kind),
                ];
                rec.register_counter(
                    &Key::from_parts("synctv_events_published_total", labels),
                    &META,
                )
            });
            make
        });
        let cluster = ClusterMetrics {
            connections_limit: gauge(
                "synctv_connections_limit",
                "The WebSocket connection limit in force on this node (limits.max_connections, after the file limit).",
            ),
            events_published: EventsPublished::new(by_type, per_room),
            events_received: counter(
                "synctv_events_received_total",
                "Room events of other nodes received through the broker.",
            ),
            events_deduplicated: counter(
                "synctv_events_deduplicated_total",
                "Events dropped as duplicates (own echoes from Redis, repeated seqs).",
            ),
            publish_seconds: histogram(
                "synctv_event_publish_duration_seconds",
                "Time to publish an event through the broker.",
            ),
            delivery_seconds: histogram(
                "synctv_event_delivery_duration_seconds",
                "Event age when queued to this node's sockets (from the origin's timestamp).",
            ),
            gap_fills: counter(
                "synctv_gap_fills_total",
                "Missing room events read back from the room's stream.",
            ),
            resyncs: counter(
                "synctv_room_resyncs_total",
                "Rooms reloaded with a fresh snapshot for their clients.",
            ),
            redis_errors: counter(
                "synctv_redis_connection_errors_total",
                "Failed Redis commands and lost Redis connections.",
            ),
            pubsub_room: pubsub("room"),
            pubsub_broadcast: pubsub("broadcast"),
            pubsub_canary: pubsub("canary"),
            cache_hits: counter(
                "synctv_cache_hits_total",
                "Room metadata served from this node's cache.",
            ),
            cache_misses: counter(
                "synctv_cache_misses_total",
                "Room metadata read from the database.",
            ),
            cache_invalidations: counter(
                "synctv_cache_invalidations_total",
                "Room metadata cache entries dropped because they changed.",
            ),
            deliveries: counter(
                "synctv_deliveries_total",
                "Event frames queued to local WebSocket connections.",
            ),
            slow_consumers: counter(
                "synctv_slow_consumer_disconnects_total",
                "Connections closed because their send queue overflowed.",
            ),
            connections_total: counter(
                "synctv_connections_total",
                "WebSocket connections accepted since start.",
            ),
            connections_active: gauge(
                "synctv_connections_active",
                "WebSocket connections open now.",
            ),
            rooms_active: gauge("synctv_rooms_active", "Rooms held in memory on this node."),
            rooms_unreconciled: gauge(
                "synctv_rooms_unreconciled",
                "Rooms this node served alone during a Redis outage, not yet reconciled.",
            ),
        };
        let sync_drift = histogram(
            SYNC_DRIFT,
            "How far clients' players are from the room's expected position, as they report it on ping (absolute).",
        );
        let frames_received = counter(
            "synctv_ws_frames_received_total",
            "Client frames received over WebSocket.",
        );
        recorder.describe_counter(
            KeyName::from_const_str("synctv_http_connection_timeouts_total"),
            None,
            SharedString::const_str(
                "HTTP connections closed by a deadline: `request` (a request did not arrive in \
                 full in time) or `idle` (no request on a keep-alive connection).",
            ),
        );
        let timeouts = |which: &'static str| {
            recorder.register_counter(
                &Key::from_parts(
                    "synctv_http_connection_timeouts_total",
                    vec![Label::new("timeout", which)],
                ),
                &META,
            )
        };
        let listener = ListenerMetrics {
            active: gauge(
                "synctv_http_connections_active",
                "TCP connections open on the HTTP listener, WebSockets included.",
            ),
            refused: counter(
                "synctv_http_connections_refused_total",
                "Connections answered 503 overloaded because server.max_http_connections were open.",
            ),
            accept_errors: counter(
                "synctv_http_accept_errors_total",
                "Failed accepts (e.g. out of file descriptors); the listener retries.",
            ),
            request_timeouts: timeouts("request"),
            idle_timeouts: timeouts("idle"),
        };
        recorder.describe_counter(
            KeyName::from_const_str("synctv_ws_errors_total"),
            None,
            SharedString::const_str("WebSocket error frames sent, by code."),
        );
        recorder.describe_counter(
            KeyName::from_const_str("synctv_http_requests_total"),
            None,
            SharedString::const_str("HTTP requests served, by method, route and status."),
        );
        recorder.describe_histogram(
            KeyName::from_const_str("synctv_http_request_duration_seconds"),
            None,
            SharedString::const_str("HTTP request latency."),
        );
        recorder.describe_gauge(
            KeyName::from_const_str("synctv_build_info"),
            None,
            SharedString::const_str("The running synctv version (always 1)."),
        );
        let build: Gauge = recorder.register_gauge(
            &Key::from_parts(
                "synctv_build_info",
                vec![Label::new("version", env!("CARGO_PKG_VERSION"))],
            ),
            &META,
        );
        build.set(1.0);
        let process = metrics_process::Collector::default();
        metrics::with_local_recorder(&*recorder, || process.describe());
        Self {
            process,
            recorder,
            handle,
            cluster,
            frames_received,
            sync_drift,
            listener,
        }
    }

    /// Label this node: `synctv_node_info{node_id,node_name} 1`.
    pub fn set_node(&self, node_id: &str, name: &str) {
        self.recorder.describe_gauge(
            KeyName::from_const_str("synctv_node_info"),
            None,
            SharedString::const_str("This node's identity (always 1)."),
        );
        let g: Gauge = self.recorder.register_gauge(
            &Key::from_parts(
                "synctv_node_info",
                vec![
                    Label::new("node_id", node_id.to_string()),
                    Label::new("node_name", name.to_string()),
                ],
            ),
            &META,
        );
        g.set(1.0);
    }

    /// The Prometheus text exposition, with the per-room and per-user connection gauges
    /// of the busiest rooms and users computed now (bounded: see `MetricsConfig`).
    pub fn render(&self, conns: &ConnectionManager, node: &str, cfg: &MetricsConfig) -> String {
        metrics::with_local_recorder(&*self.recorder, || self.process.collect());
        let mut out = self.handle.render();
        top_gauge(
            &mut out,
            "synctv_connections_per_room",
            "WebSocket connections per room on this node, for the metrics.per_room_top rooms with the most.",
            "room",
            conns
                .top_rooms(cfg.per_room_top)
                .iter()
                .map(|(r, n)| (r.as_str(), *n)),
            node,
        );
        top_gauge(
            &mut out,
            "synctv_connections_per_user",
            "WebSocket connections per user on this node, for the metrics.per_user_top users with the most.",
            "user",
            conns
                .top_users(cfg.per_user_top)
                .iter()
                .map(|(u, n)| (u.as_str(), *n)),
            node,
        );
        out
    }

    pub fn ws_error(&self, code: &'static str) {
        let key = Key::from_parts("synctv_ws_errors_total", vec![Label::new("code", code)]);
        self.recorder.register_counter(&key, &META).increment(1);
    }

    pub fn http_request(&self, method: &Method, route: &str, status: u16, elapsed: Duration) {
        let labels = vec![
            Label::new("method", method_label(method)),
            Label::new("route", route.to_string()),
            Label::new("status", status.to_string()),
        ];
        let key = Key::from_parts("synctv_http_requests_total", labels);
        self.recorder.register_counter(&key, &META).increment(1);
        let key = Key::from_parts(
            "synctv_http_request_duration_seconds",
            vec![Label::new("route", route.to_string())],
        );
        let h: Histogram = self.recorder.register_histogram(&key, &META);
        h.record(elapsed.as_secs_f64());
    }
}

/// The `method` label: one of the standard methods, else `other`. A client may send any
/// token as a method; taken verbatim, each would create a series of its own.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// Append one gauge family of `(label value, count)` samples (nothing when empty).
fn top_gauge<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    label: &str,
    samples: impl Iterator<Item = (&'a str, usize)>,
    node: &str,
) {
    let mut samples = samples.peekable();
    if samples.peek().is_none() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge");
    for (value, n) in samples {
        let _ = writeln!(
            out,
            "{name}{{{label}=\"{}\",node=\"{}\"}} {n}",
            escape(value),
            escape(node)
        );
    }
}

/// A Prometheus label value: backslash, quote and newline escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_standard_methods_name_their_own_series() {
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        let custom = Method::from_bytes(b"M0001").unwrap();
        assert_eq!(method_label(&custom), "other");
        let lower = Method::from_bytes(b"get").unwrap();
        assert_eq!(method_label(&lower), "other");
    }
}
