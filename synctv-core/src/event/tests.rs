use super::*;
use crate::ids::MessageId;
use serde_json::{Value, json};

fn draft(event: RoomEvent) -> EventDraft {
    let mut d = EventDraft::at(NodeId::from("n1"), event, 42);
    d.event_id = EventId::from("e1");
    d
}

fn alice() -> MemberInfo {
    MemberInfo {
        user_id: UserId::from("u"),
        username: "alice".into(),
        role: Role::Member,
        permissions: None,
    }
}

#[test]
fn chat_frame_matches_the_contract() {
    let d = draft(RoomEvent::Chat(ChatMessage {
        message_id: MessageId::from("m"),
        user_id: UserId::from("u"),
        username: "alice".into(),
        text: "hi \"there\"".into(),
    }));
    let v: Value = serde_json::from_slice(&d.encode(7)).unwrap();
    assert_eq!(
        v,
        json!({"type":"event","seq":7,"event_id":"e1","origin_node":"n1","ts_ms":42,
               "kind":"chat","data":{"message_id":"m","user_id":"u","username":"alice","text":"hi \"there\""}})
    );
}

#[test]
fn playback_data_is_flat_with_user_id() {
    let d = draft(RoomEvent::Playback(PlaybackChange {
        state: PlaybackState::default(),
        user_id: UserId::from("u"),
    }));
    let v: Value = serde_json::from_slice(&d.encode(1)).unwrap();
    assert_eq!(
        v["data"],
        json!({"movie_id":null,"playing":false,"position_ms":0,"rate":1.0,
               "updated_at_ms":0,"version":0,"user_id":"u"})
    );
}

#[test]
fn room_deleted_has_empty_object_data() {
    let v: Value = serde_json::from_slice(&draft(RoomEvent::RoomDeleted {}).encode(3)).unwrap();
    assert_eq!(v["kind"], "room_deleted");
    assert_eq!(v["data"], json!({}));
}

#[test]
fn member_events_carry_user_id_username_and_role() {
    let v: Value =
        serde_json::from_slice(&draft(RoomEvent::MemberJoined(alice())).encode(1)).unwrap();
    assert_eq!(
        v["data"],
        json!({"user_id":"u","username":"alice","role":"member"})
    );
}

#[test]
fn envelopes_rebuild_the_same_frame_and_event() {
    let events = [
        RoomEvent::MemberJoined(alice()),
        RoomEvent::MemberLeft(alice()),
        RoomEvent::MovieRemoved {
            movie_id: MovieId::from("mv"),
        },
        RoomEvent::RoomDeleted {},
        RoomEvent::Playback(PlaybackChange {
            state: PlaybackState::default(),
            user_id: UserId::from("u"),
        }),
    ];
    let epoch = Epoch::from("ep");
    for e in events {
        let d = draft(e.clone());
        let env = envelope(9, &epoch, &d);
        let v: Value = serde_json::from_slice(&env).unwrap();
        assert_eq!(v["seq"], 9);
        assert_eq!(v["epoch"], "ep");
        assert_eq!(v["node_id"], "n1");
        assert_eq!(v["message_id"], "e1");
        assert_eq!(v["timestamp"], 42);
        assert_eq!(v["event"]["kind"], e.kind());
        let back = Envelope::decode(&env).unwrap();
        assert_eq!(back.seq, 9);
        assert_eq!(back.epoch, epoch);
        assert_eq!(back.event, e);
        assert_eq!(
            back.frame,
            d.encode(9),
            "byte-identical frames on every node"
        );
    }
}

#[test]
fn envelope_head_is_what_scripts_complete() {
    let d = draft(RoomEvent::RoomDeleted {});
    let built = format!(
        "{{\"seq\":5,\"epoch\":\"x\",{}{}}}",
        envelope_head(&d.origin_node, &d.event_id, d.ts_ms),
        std::str::from_utf8(&d.event_json).unwrap()
    );
    assert_eq!(built.as_bytes(), &envelope(5, &Epoch::from("x"), &d)[..]);
}
