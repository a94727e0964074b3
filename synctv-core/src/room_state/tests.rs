use super::*;
use crate::event::PlaybackChange;
use crate::ids::{MessageId, RoomId};
use crate::model::{Role, RoomSettings};

fn info() -> RoomInfo {
    RoomInfo {
        room_id: RoomId::from("r"),
        name: "r".into(),
        owner_id: UserId::from("o"),
        has_password: false,
        settings: RoomSettings::default(),
        created_at_ms: 1,
        version: 0,
    }
}

fn state(cap: usize) -> RoomState {
    RoomState::new(info(), vec![], PlaybackState::default(), vec![], cap)
}

fn chat(n: u32) -> RoomEvent {
    RoomEvent::Chat(ChatMessage {
        message_id: MessageId::from(format!("m{n}")),
        user_id: UserId::from("u"),
        username: "u".into(),
        text: format!("{n}"),
    })
}

fn member(id: &str, role: Role) -> MemberInfo {
    MemberInfo {
        user_id: UserId::from(id),
        username: id.into(),
        role,
        permissions: None,
    }
}

fn texts(s: &RoomState) -> Vec<String> {
    s.recent_chat
        .iter()
        .map(|c| c.message.text.clone())
        .collect()
}

#[test]
fn recent_chat_is_bounded_and_ordered() {
    let mut s = state(2);
    for n in 0..5 {
        s.apply(&chat(n), u64::from(n));
    }
    assert_eq!(texts(&s), ["3", "4"]);
}

#[test]
fn recent_chat_order_does_not_depend_on_arrival_order() {
    let mut a = state(10);
    let mut b = state(10);
    a.apply(&chat(1), 10);
    a.apply(&chat(2), 5);
    b.apply(&chat(2), 5);
    b.apply(&chat(1), 10);
    assert_eq!(texts(&a), ["2", "1"]);
    assert_eq!(texts(&a), texts(&b));
    a.apply(&chat(1), 10);
    assert_eq!(texts(&a).len(), 2, "a message is listed once");
}

#[test]
fn members_join_leave_and_carry_permissions() {
    let mut s = state(10);
    let alice = UserId::from("a");
    s.apply(&RoomEvent::MemberJoined(member("a", Role::Guest)), 0);
    assert_eq!(s.member_count(), 1);
    assert!(!s.may(&alice, Permission::Playback));
    assert!(s.may(&alice, Permission::Chat));
    s.apply(
        &RoomEvent::MemberUpdated(crate::event::MemberUpdate {
            user_id: alice.clone(),
            username: "a".into(),
            role: Role::Member,
            permissions: None,
        }),
        0,
    );
    assert!(s.may(&alice, Permission::Playback));
    s.apply(&RoomEvent::MemberLeft(member("a", Role::Member)), 0);
    assert_eq!(s.member_count(), 0);
    assert!(!s.may(&alice, Permission::Chat));
}

#[test]
fn playback_and_room_info_apply_only_newer_versions() {
    let mut s = state(10);
    let pb = |version| {
        RoomEvent::Playback(PlaybackChange {
            state: PlaybackState {
                version,
                position_ms: version * 100,
                ..PlaybackState::default()
            },
            user_id: UserId::from("u"),
        })
    };
    s.apply(&pb(2), 0);
    s.apply(&pb(1), 0);
    assert_eq!(
        s.playback.version, 2,
        "an older change crossing in flight loses"
    );
    let room = |version, name: &str| RoomEvent::RoomUpdated {
        room: RoomObject {
            info: RoomInfo {
                name: name.into(),
                version,
                ..info()
            },
            member_count: 0,
            playback: PlaybackState::default(),
        },
    };
    s.apply(&room(3, "new"), 0);
    s.apply(&room(2, "old"), 0);
    assert_eq!(s.info.name, "new");
}

#[test]
fn playlist_is_in_movie_id_order() {
    let mut s = state(10);
    let movie = |id: &str| Movie {
        movie_id: MovieId::from(id),
        url: "https://x/y".into(),
        title: id.into(),
    };
    s.apply(&RoomEvent::MovieAdded { movie: movie("b") }, 0);
    s.apply(&RoomEvent::MovieAdded { movie: movie("a") }, 0);
    s.apply(&RoomEvent::MovieAdded { movie: movie("a") }, 0);
    let ids: Vec<_> = s.playlist.iter().map(|m| m.movie_id.to_string()).collect();
    assert_eq!(ids, ["a", "b"]);
    s.apply(
        &RoomEvent::MovieRemoved {
            movie_id: MovieId::from("a"),
        },
        0,
    );
    assert_eq!(s.playlist.len(), 1);
}

#[test]
fn snapshot_lists_everything_with_refreshed_counts() {
    let mut s = state(10);
    s.apply(&chat(1), 5);
    s.apply(&RoomEvent::MemberJoined(member("a", Role::Member)), 0);
    let counts = HashMap::from([(UserId::from("a"), 3)]);
    let v: serde_json::Value = serde_json::from_str(s.snapshot().finish(&counts).get()).unwrap();
    assert_eq!(v["room_id"], "r");
    assert_eq!(v["member_count"], 1);
    assert_eq!(v["members"][0]["user_id"], "a");
    assert_eq!(v["members"][0]["connections"], 3);
    assert_eq!(v["recent_chat"][0]["text"], "1");
    assert_eq!(v["recent_chat"][0]["ts_ms"], 5);
    assert!(v["playlist"].as_array().unwrap().is_empty());
    assert_eq!(v["playback"]["version"], 0);
    let plain: serde_json::Value = serde_json::from_str(s.snapshot_json().get()).unwrap();
    assert_eq!(plain["members"][0]["connections"], 1);
}
