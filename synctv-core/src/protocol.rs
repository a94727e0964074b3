//! The WebSocket wire protocol: parsing client frames, building server frames, and the
//! stable error and close codes (documented in docs/protocol.md).
//!
//! Parsing is two-step: a light envelope read (`type` and `ref`) first, so that a frame with
//! a bad body is still answered with its `ref` and a precise code (`unknown_type` vs
//! `invalid_frame`), then the typed body.

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::ids::{ConnId, Epoch, NodeId};
use crate::model::PlaybackCommand;

/// WebSocket close codes. 1xxx are RFC 6455's; 4xxx are synctv's own.
pub mod close {
    /// Server shutdown (drain over).
    pub const GOING_AWAY: u16 = 1001;
    /// Policy violation: auth, limits, flooding.
    pub const POLICY: u16 = 1008;
    /// A client message exceeded `ws.max_message_bytes`.
    pub const TOO_BIG: u16 = 1009;
    /// The server hit an unexpected error.
    pub const INTERNAL: u16 = 1011;
    /// The room was deleted.
    pub const ROOM_DELETED: u16 = 4002;
    /// The socket's send queue overflowed: the client did not read fast enough.
    pub const SLOW_CONSUMER: u16 = 4003;
    /// Nothing received (not even a pong) within `ws.idle_timeout_secs`.
    pub const IDLE_TIMEOUT: u16 = 4004;
    /// The room's event stream was interrupted on this node; reconnect for a fresh snapshot.
    pub const RESYNC: u16 = 4005;
    /// Open for `ws.max_connection_secs`: reconnect (with `since`/`epoch` to resume).
    pub const MAX_DURATION: u16 = 4006;
    /// The member was removed from the room (or banned).
    pub const REMOVED: u16 = 4007;
    /// The socket's access changed (guests turned off, password set or changed, token
    /// expired): reconnect to be admitted again, if still allowed.
    pub const ACCESS_CHANGED: u16 = 4008;
}

/// `error` frame codes.
pub mod code {
    pub const INVALID_JSON: &str = "invalid_json";
    pub const UNKNOWN_TYPE: &str = "unknown_type";
    pub const INVALID_FRAME: &str = "invalid_frame";
    pub const BINARY_NOT_SUPPORTED: &str = "binary_not_supported";
    pub const FORBIDDEN: &str = "forbidden";
    pub const VERSION_CONFLICT: &str = "version_conflict";
    pub const NO_CURRENT_MOVIE: &str = "no_current_movie";
    pub const MOVIE_NOT_FOUND: &str = "movie_not_found";
    pub const RATE_LIMITED: &str = "rate_limited";
    pub const MESSAGE_TOO_BIG: &str = "message_too_big";
    pub const ROOM_NOT_FOUND: &str = "room_not_found";
    pub const INTERNAL: &str = "internal_error";
}

/// The `ref` a client attached to a frame: a string or a number, echoed back verbatim.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FrameRef {
    Text(String),
    Number(serde_json::Number),
}

/// What a client asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientRequest {
    Chat {
        text: String,
    },
    Playback(PlaybackCommand),
    /// `drift_ms`: the client's measured distance from the room's expected position
    /// (positive: ahead), reported for the node's sync-quality histogram.
    Ping {
        client_time_ms: Option<u64>,
        drift_ms: Option<f64>,
    },
}

/// A parsed client frame: its `ref` (if any) and the request, or why it was refused.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientFrame {
    pub r#ref: Option<FrameRef>,
    pub request: Result<ClientRequest, FrameError>,
}

/// Why a client frame was refused before reaching any room logic.
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub code: &'static str,
    pub message: String,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow, default)]
    ty: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "ref", default)]
    r#ref: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ChatBody {
    text: String,
}

#[derive(Deserialize)]
struct PingBody {
    #[serde(default)]
    client_time_ms: Option<u64>,
    #[serde(default)]
    drift_ms: Option<f64>,
}

/// A drift report beyond a day is no measurement: refused rather than let it skew the
/// histogram's sum.
pub const MAX_DRIFT_MS: f64 = 86_400_000.0;

fn invalid(message: impl Into<String>) -> FrameError {
    FrameError {
        code: code::INVALID_FRAME,
        message: message.into(),
    }
}

impl ClientFrame {
    pub fn parse(text: &str) -> ClientFrame {
        let env: Envelope = match serde_json::from_str(text) {
            Ok(e) => e,
            Err(e) => {
                let (code, message) = if e.is_data() {
                    (
                        code::INVALID_FRAME,
                        "a frame must be a JSON object".to_string(),
                    )
                } else {
                    (code::INVALID_JSON, format!("malformed JSON: {e}"))
                };
                return ClientFrame {
                    r#ref: None,
                    request: Err(FrameError { code, message }),
                };
            }
        };
        let r#ref = match env.r#ref {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(FrameRef::Text(s)),
            Some(serde_json::Value::Number(n)) => Some(FrameRef::Number(n)),
            Some(_) => {
                return ClientFrame {
                    r#ref: None,
                    request: Err(invalid("ref must be a string or a number")),
                };
            }
        };
        let request = match env.ty.as_deref() {
            None => Err(invalid("missing \"type\"")),
            Some("chat") => serde_json::from_str::<ChatBody>(text)
                .map(|b| ClientRequest::Chat { text: b.text })
                .map_err(|e| invalid(format!("chat: {e}"))),
            Some("playback") => serde_json::from_str::<PlaybackCommand>(text)
                .map(ClientRequest::Playback)
                .map_err(|e| invalid(format!("playback: {e}"))),
            Some("ping") => serde_json::from_str::<PingBody>(text)
                .map_err(|e| invalid(format!("ping: {e}")))
                .and_then(|b| match b.drift_ms {
                    Some(d) if !d.is_finite() || d.abs() > MAX_DRIFT_MS => {
                        Err(invalid("ping: drift_ms must be within ±86400000"))
                    }
                    drift_ms => Ok(ClientRequest::Ping {
                        client_time_ms: b.client_time_ms,
                        drift_ms,
                    }),
                }),
            Some(other) => Err(FrameError {
                code: code::UNKNOWN_TYPE,
                message: format!("unknown frame type {other:?}"),
            }),
        };
        ClientFrame { r#ref, request }
    }
}

/// Frames the server sends besides `event` (which `event::EventDraft::encode` builds).
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame<'a> {
    Welcome {
        conn_id: String,
        node_id: &'a NodeId,
        server_time_ms: u64,
        seq: u64,
        epoch: &'a Epoch,
        resumed: bool,
        room: &'a RawValue,
    },
    Ack {
        r#ref: &'a FrameRef,
        seq: Option<u64>,
    },
    /// `ref` is always present (`null` when the refused frame had none).
    Error {
        code: &'a str,
        message: &'a str,
        r#ref: Option<&'a FrameRef>,
    },
    Pong {
        client_time_ms: Option<u64>,
        server_time_ms: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        r#ref: Option<&'a FrameRef>,
    },
    Shutdown {
        reconnect_after_ms: u64,
    },
}

impl ServerFrame<'_> {
    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).expect("server frames always serialize"))
    }
}

/// Convenience for the welcome frame's `conn_id`.
pub fn conn_id_string(node: &NodeId, conn: ConnId) -> String {
    format!("{node}-{conn}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PlaybackAction;
    use serde_json::{Value, json};

    fn code_of(text: &str) -> &'static str {
        ClientFrame::parse(text).request.unwrap_err().code
    }

    #[test]
    fn parses_each_request_type() {
        let f = ClientFrame::parse(r#"{"type":"chat","text":"hi","ref":"a1"}"#);
        assert_eq!(f.r#ref, Some(FrameRef::Text("a1".into())));
        assert_eq!(f.request, Ok(ClientRequest::Chat { text: "hi".into() }));

        let f = ClientFrame::parse(
            r#"{"type":"playback","action":"seek","position_ms":5,"base_version":2}"#,
        );
        match f.request.unwrap() {
            ClientRequest::Playback(c) => {
                assert_eq!(c.action, PlaybackAction::Seek);
                assert_eq!(c.position_ms, Some(5));
                assert_eq!(c.base_version, Some(2));
            }
            other => panic!("{other:?}"),
        }

        let f = ClientFrame::parse(r#"{"type":"ping","client_time_ms":12,"ref":7}"#);
        assert_eq!(f.r#ref, Some(FrameRef::Number(7.into())));
        assert_eq!(
            f.request,
            Ok(ClientRequest::Ping {
                client_time_ms: Some(12),
                drift_ms: None,
            })
        );

        let f = ClientFrame::parse(r#"{"type":"ping","client_time_ms":1,"drift_ms":-12.5}"#);
        assert_eq!(
            f.request,
            Ok(ClientRequest::Ping {
                client_time_ms: Some(1),
                drift_ms: Some(-12.5),
            })
        );
    }

    #[test]
    fn classifies_bad_frames() {
        assert_eq!(code_of("{not json"), code::INVALID_JSON);
        assert_eq!(code_of("[1,2]"), code::INVALID_FRAME);
        assert_eq!(code_of(r#""chat""#), code::INVALID_FRAME);
        assert_eq!(code_of(r#"{"text":"no type"}"#), code::INVALID_FRAME);
        assert_eq!(code_of(r#"{"type":"dance"}"#), code::UNKNOWN_TYPE);
        assert_eq!(
            code_of(r#"{"type":"ping","drift_ms":1e12}"#),
            code::INVALID_FRAME
        );
        assert_eq!(
            code_of(r#"{"type":"ping","drift_ms":"5"}"#),
            code::INVALID_FRAME
        );
        assert_eq!(code_of(r#"{"type":"chat"}"#), code::INVALID_FRAME);
        assert_eq!(code_of(r#"{"type":"chat","text":5}"#), code::INVALID_FRAME);
        assert_eq!(
            code_of(r#"{"type":"playback","action":"explode"}"#),
            code::INVALID_FRAME
        );
        assert_eq!(
            code_of(r#"{"type":"chat","text":"x","ref":{}}"#),
            code::INVALID_FRAME
        );
    }

    #[test]
    fn bad_body_keeps_its_ref() {
        let f = ClientFrame::parse(r#"{"type":"dance","ref":"r9"}"#);
        assert_eq!(f.r#ref, Some(FrameRef::Text("r9".into())));
        assert!(f.request.is_err());
    }

    #[test]
    fn server_frames_have_contract_shapes() {
        let r = FrameRef::Text("x".into());
        let v: Value = serde_json::from_slice(
            &ServerFrame::Ack {
                r#ref: &r,
                seq: Some(3),
            }
            .encode(),
        )
        .unwrap();
        assert_eq!(v, json!({"type":"ack","ref":"x","seq":3}));
        let v: Value = serde_json::from_slice(
            &ServerFrame::Error {
                code: "forbidden",
                message: "no",
                r#ref: None,
            }
            .encode(),
        )
        .unwrap();
        assert_eq!(
            v,
            json!({"type":"error","code":"forbidden","message":"no","ref":null})
        );
        let v: Value = serde_json::from_slice(
            &ServerFrame::Shutdown {
                reconnect_after_ms: 5,
            }
            .encode(),
        )
        .unwrap();
        assert_eq!(v, json!({"type":"shutdown","reconnect_after_ms":5}));
        let room = RawValue::from_string("{\"room_id\":\"r\"}".into()).unwrap();
        let node = NodeId::from("n");
        let epoch = Epoch::from("e");
        let w = ServerFrame::Welcome {
            conn_id: "c".into(),
            node_id: &node,
            server_time_ms: 1,
            seq: 0,
            epoch: &epoch,
            resumed: false,
            room: &room,
        };
        let v: Value = serde_json::from_slice(&w.encode()).unwrap();
        assert_eq!(
            v,
            json!({"type":"welcome","conn_id":"c","node_id":"n","server_time_ms":1,"seq":0,
                   "epoch":"e","resumed":false,"room":{"room_id":"r"}})
        );
    }
}
