//! The few fields of server frames the tool needs, read without copying the rest.
//! A welcome carries a whole room snapshot; serde skips it without building it.

use std::borrow::Cow;

use serde::Deserialize;

/// What a server frame means to a member.
#[derive(Debug, PartialEq)]
pub enum Frame<'a> {
    /// First frame of a connection, or a fresh snapshot after a resync.
    Welcome {
        seq: u64,
        resumed: bool,
    },
    /// A room event: `chat` ones carry the sender and the text (send time of ours).
    Event {
        seq: u64,
        kind: Cow<'a, str>,
        user_id: Option<Cow<'a, str>>,
        text: Option<Cow<'a, str>>,
    },
    Error {
        code: Cow<'a, str>,
    },
    Shutdown,
    /// `ack`, `pong` and anything newer than this tool.
    Other,
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(rename = "type", borrow)]
    ty: Cow<'a, str>,
    seq: Option<u64>,
    resumed: Option<bool>,
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    code: Option<Cow<'a, str>>,
    #[serde(borrow)]
    data: Option<Data<'a>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(borrow)]
    user_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

/// Parse a text frame; `None` when it is not a frame of the protocol.
pub fn parse(text: &str) -> Option<Frame<'_>> {
    let raw: Raw<'_> = serde_json::from_str(text).ok()?;
    Some(match &*raw.ty {
        "welcome" => Frame::Welcome {
            seq: raw.seq?,
            resumed: raw.resumed.unwrap_or(false),
        },
        "event" => {
            let (user_id, text) = raw.data.map_or((None, None), |d| (d.user_id, d.text));
            Frame::Event {
                seq: raw.seq?,
                kind: raw.kind?,
                user_id,
                text,
            }
        }
        "error" => Frame::Error {
            code: raw.code.unwrap_or(Cow::Borrowed("unknown")),
        },
        "shutdown" => Frame::Shutdown,
        _ => Frame::Other,
    })
}

/// The chat frame a publisher sends: its text is the send time in nanoseconds.
pub fn chat(send_ns: u64) -> String {
    format!(r#"{{"type":"chat","text":"{send_ns}"}}"#)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welcome_skips_the_snapshot() {
        let f = parse(
            r#"{"type":"welcome","conn_id":"n-1","seq":12,"epoch":"ab","resumed":false,
               "room":{"members":[{"user_id":"u","connections":1}],"recent_chat":[]}}"#,
        );
        assert_eq!(
            f,
            Some(Frame::Welcome {
                seq: 12,
                resumed: false
            })
        );
    }

    #[test]
    fn chat_event_has_sender_and_text() {
        let f = parse(
            r#"{"type":"event","seq":13,"event_id":"e","origin_node":"n","ts_ms":1,
               "kind":"chat","data":{"message_id":"m","user_id":"u1","username":"a","text":"42"}}"#,
        )
        .unwrap();
        let Frame::Event {
            seq,
            kind,
            user_id,
            text,
        } = f
        else {
            panic!("not an event: {f:?}")
        };
        assert_eq!((seq, &*kind), (13, "chat"));
        assert_eq!(user_id.as_deref(), Some("u1"));
        assert_eq!(text.as_deref(), Some("42"));
    }

    #[test]
    fn other_events_errors_and_junk() {
        let f = parse(r#"{"type":"event","seq":2,"kind":"playback","data":{"playing":true}}"#);
        assert!(matches!(
            f,
            Some(Frame::Event {
                seq: 2,
                text: None,
                ..
            })
        ));
        let f = parse(r#"{"type":"error","code":"rate_limited","message":"slow down"}"#);
        assert!(matches!(f, Some(Frame::Error { code }) if code == "rate_limited"));
        assert_eq!(
            parse(r#"{"type":"ack","ref":"1","seq":3}"#),
            Some(Frame::Other)
        );
        assert_eq!(parse("not json"), None);
        assert_eq!(parse(r#"{"type":"event","kind":"chat"}"#), None);
    }

    #[test]
    fn chat_frame_is_json() {
        let v: serde_json::Value = serde_json::from_str(&chat(1234)).unwrap();
        assert_eq!(v["type"], "chat");
        assert_eq!(v["text"], "1234");
    }
}
