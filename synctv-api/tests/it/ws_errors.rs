//! Every bad input of the contract gets the right error, and everyone else carries on.

use serde_json::{Value, json};
use synctv_core::auth::{Claims, TokenKeys};
use synctv_core::ids::UserId;
use tokio_tungstenite::tungstenite::Message;

use crate::common::*;
use crate::dual;

/// A room with an owner's socket open (the bystander that must be unaffected).
struct Scene {
    app: TestApp,
    owner: User,
    room_id: String,
    bystander: WsClient,
}

async fn scene(
    db: DbKind,
    tweak: impl FnOnce(&mut synctv_core::config::Config),
    room: Value,
) -> Scene {
    let app = TestApp::spawn_with(db, tweak).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, room).await;
    let room_id = room["room_id"].as_str().unwrap().to_string();
    let mut bystander = app.ws(&room_id, &owner, "").await;
    bystander.welcome().await;
    bystander.event("member_joined").await;
    Scene {
        app,
        owner,
        room_id,
        bystander,
    }
}

impl Scene {
    /// The bystander still chats and receives its own event.
    async fn bystander_unaffected(&mut self) {
        let seq = self.bystander.chat("still fine").await;
        let frames = self.bystander.sync().await;
        assert!(
            events(&frames).contains(&(seq, "chat".into())) || seq > 0,
            "the bystander keeps working: {frames:?}"
        );
    }
}

async fn malformed_frames_get_error_frames_and_the_socket_stays_open(db: DbKind) {
    let mut s = scene(db, |_| {}, json!({"name": "r"})).await;
    let member = s.app.register("member").await;
    let mut c = s.app.ws(&s.room_id, &member, "").await;
    c.welcome().await;
    c.event("member_joined").await;
    s.bystander.event("member_joined").await;

    let cases: &[(&str, &str)] = &[
        ("{this is not json", "invalid_json"),
        ("[1,2,3]", "invalid_frame"),
        (r#"{"type":"teleport"}"#, "unknown_type"),
        (r#"{"no_type":true}"#, "invalid_frame"),
        (r#"{"type":"chat"}"#, "invalid_frame"),
        (r#"{"type":"chat","text":42}"#, "invalid_frame"),
        (r#"{"type":"chat","text":"   "}"#, "validation_failed"),
        (r#"{"type":"playback","action":"fly"}"#, "invalid_frame"),
        (
            r#"{"type":"playback","action":"rate","rate":-1}"#,
            "invalid_frame",
        ),
    ];
    for (text, code) in cases {
        c.send_text(text).await;
        let e = c.recv().await;
        assert_eq!(e["type"], "error", "{text} -> {e}");
        assert_eq!(e["code"], *code, "{text} -> {e}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()));
        assert_eq!(
            e.get("ref"),
            Some(&Value::Null),
            "ref is present and null: {e}"
        );
    }
    // A ref on a bad frame comes back on its error.
    c.send_text(r#"{"type":"teleport","ref":"t1"}"#).await;
    let e = c.recv().await;
    assert_eq!(
        (e["code"].as_str(), e["ref"].as_str()),
        (Some("unknown_type"), Some("t1"))
    );
    // Binary frames are refused the same way.
    c.send_message(Message::binary(vec![1u8, 2, 3])).await;
    let e = c.recv().await;
    assert_eq!(e["code"], "binary_not_supported");
    // Too-long chat.
    let long = "x".repeat(s.app.config.rooms.max_chat_len + 1);
    let e = c.request_error(json!({"type": "chat", "text": long})).await;
    assert_eq!(e["code"], "validation_failed");

    // The same socket still works, and the bystander saw none of the rejected frames.
    let seq = c.chat("after all that").await;
    let frames = s.bystander.sync().await;
    assert_eq!(events(&frames), vec![(seq, "chat".to_string())]);
    s.bystander_unaffected().await;
    s.app.stop().await;
}
dual!(malformed_frames_get_error_frames_and_the_socket_stays_open);

async fn oversized_frame_closes_only_that_socket_with_1009(db: DbKind) {
    let mut s = scene(db, |c| c.ws.max_message_bytes = 4096, json!({"name": "r"})).await;
    let other = s.app.register("other").await;
    let mut c = s.app.ws(&s.room_id, &other, "").await;
    c.welcome().await;
    c.event("member_joined").await;
    s.bystander.event("member_joined").await;
    let huge = json!({"type": "chat", "text": "y".repeat(10_000)}).to_string();
    c.send_text(&huge).await;
    let (frames, closed) = c.closed().await;
    assert_eq!(closed, Closed::Code(1009, "message too big".into()));
    assert!(
        frames.iter().any(|f| f["code"] == "message_too_big"),
        "{frames:?}"
    );
    // The bystander sees the other user leave, and keeps working.
    let left = s.bystander.event("member_left").await;
    assert_eq!(left["data"]["user_id"], other.user_id.as_str());
    s.bystander_unaffected().await;
    s.app.stop().await;
}
dual!(oversized_frame_closes_only_that_socket_with_1009);

async fn refused_upgrades_are_json_errors(db: DbKind) {
    let mut s = scene(db, |_| {}, json!({"name": "locked", "password": "sesame"})).await;
    let room = s.room_id.clone();
    let app = &s.app;
    let bob = app.register("bob").await;

    let forged = TokenKeys::new(b"another-secret-another-secret-12345", 3600)
        .issue(&UserId::from(bob.user_id.as_str()), "bob", false)
        .unwrap();
    let keys = TokenKeys::new(TEST_SECRET.as_bytes(), 3600);
    let expired = keys
        .encode(&Claims {
            sub: UserId::from(bob.user_id.as_str()),
            name: "bob".into(),
            guest: false,
            iat: 1,
            exp: 2,
        })
        .unwrap();
    let cases: Vec<(String, String, u16, &str)> = vec![
        (room.clone(), String::new(), 401, "missing_token"),
        (room.clone(), forged, 401, "invalid_token"),
        (room.clone(), expired, 401, "token_expired"),
        (
            "no-such-room".into(),
            bob.token.clone(),
            404,
            "room_not_found",
        ),
        (room.clone(), bob.token.clone(), 403, "wrong_room_password"),
    ];
    for (room_id, token, status, code) in cases {
        let refused = app
            .try_ws(&room_id, &token, "")
            .await
            .err()
            .expect("refused");
        assert_eq!(refused.0, status, "{code}: {:?}", refused.1);
        assert_eq!(refused.1["error"]["code"], code);
    }
    let refused = app
        .try_ws(&room, &bob.token, "&password=wrong")
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.0, refused.1["error"]["code"].as_str()),
        (403, Some("wrong_room_password"))
    );
    // The right password lets bob in; the owner never needs it.
    let mut b = app.ws(&room, &bob, "&password=sesame").await;
    b.welcome().await;
    // A plain GET on the socket route says an upgrade is needed.
    let (status, body) = app
        .get(
            &format!("/api/rooms/{room}/ws?token={}&password=sesame", bob.token),
            None,
        )
        .await;
    assert_eq!(status, 426);
    assert_eq!(body["error"]["code"], "upgrade_required");
    b.close().await;
    s.bystander_unaffected().await;
    s.app.stop().await;
}
dual!(refused_upgrades_are_json_errors);

async fn guests_and_settings_decide_who_may_act(db: DbKind) {
    let mut s = scene(db, |_| {}, json!({"name": "r"})).await;
    let movie = s.app.add_movie(&s.owner, &s.room_id, "m").await;
    let guest = s.app.guest("visitor").await;
    let mut g = s.app.ws(&s.room_id, &guest, "").await;
    g.welcome().await;
    g.event("member_joined").await;
    // Guests may chat by default, but not control playback.
    g.chat("hello from a guest").await;
    let e = g
        .request_error(
            json!({"type": "playback", "action": "set_movie", "movie_id": movie["movie_id"]}),
        )
        .await;
    assert_eq!(e["code"], "forbidden");

    // The owner restricts playback to admins: a plain member is now refused too.
    let member = s.app.register("member").await;
    let (st, _) = s
        .app
        .patch(
            &format!("/api/rooms/{}", s.room_id),
            Some(&s.owner.token),
            json!({"settings": {"playback_role": "admin"}}),
        )
        .await;
    assert_eq!(st, 200);
    let mut m = s.app.ws(&s.room_id, &member, "").await;
    m.welcome().await;
    let e = m
        .request_error(
            json!({"type": "playback", "action": "set_movie", "movie_id": movie["movie_id"]}),
        )
        .await;
    assert_eq!(e["code"], "forbidden");
    // Promoting the member to admin lets them.
    let (st, body) = s
        .app
        .patch(
            &format!("/api/rooms/{}/members/{}", s.room_id, member.user_id),
            Some(&s.owner.token),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["role"], "admin");
    m.request(json!({"type": "playback", "action": "set_movie", "movie_id": movie["movie_id"]}))
        .await;
    // Muting (explicit permissions without chat) stops them chatting.
    let (st, _) = s
        .app
        .patch(
            &format!("/api/rooms/{}/members/{}", s.room_id, member.user_id),
            Some(&s.owner.token),
            json!({"role": "member", "permissions": ["playback"]}),
        )
        .await;
    assert_eq!(st, 200);
    let e = m
        .request_error(json!({"type": "chat", "text": "can I talk?"}))
        .await;
    assert_eq!(e["code"], "forbidden");

    // Rooms may refuse guests altogether.
    let (st, _) = s
        .app
        .patch(
            &format!("/api/rooms/{}", s.room_id),
            Some(&s.owner.token),
            json!({"settings": {"guests_allowed": false}}),
        )
        .await;
    assert_eq!(st, 200);
    let refused = s
        .app
        .try_ws(&s.room_id, &guest.token, "")
        .await
        .err()
        .expect("refused");
    assert_eq!(
        (refused.0, refused.1["error"]["code"].as_str()),
        (403, Some("guests_not_allowed"))
    );
    s.bystander_unaffected().await;
    s.app.stop().await;
}
dual!(guests_and_settings_decide_who_may_act);

async fn playback_conflicts_and_missing_movies(db: DbKind) {
    let mut s = scene(db, |_| {}, json!({"name": "r"})).await;
    let c = &mut s.bystander;
    let e = c
        .request_error(json!({"type": "playback", "action": "play"}))
        .await;
    assert_eq!(e["code"], "no_current_movie");
    let e = c
        .request_error(json!({"type": "playback", "action": "set_movie", "movie_id": "nope"}))
        .await;
    assert_eq!(e["code"], "movie_not_found");
    let movie = s.app.add_movie(&s.owner, &s.room_id, "m").await;
    let c = &mut s.bystander;
    c.recv_type("event").await; // movie_added
    c.request(json!({"type": "playback", "action": "set_movie", "movie_id": movie["movie_id"], "base_version": 0})).await;
    c.request(json!({"type": "playback", "action": "seek", "position_ms": 10, "base_version": 1}))
        .await;
    let e = c
        .request_error(json!({"type": "playback", "action": "pause", "base_version": 1}))
        .await;
    assert_eq!(e["code"], "version_conflict");
    // Without base_version the change is last-writer-wins.
    let (frames, _) = c
        .request(json!({"type": "playback", "action": "rate", "rate": 1.5}))
        .await;
    let pb = frames
        .iter()
        .find(|f| f["kind"] == "playback")
        .expect("own playback event");
    assert_eq!(pb["data"]["version"], 3);
    assert_eq!(pb["data"]["rate"], 1.5);
    s.app.stop().await;
}
dual!(playback_conflicts_and_missing_movies);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flooding_is_rate_limited_then_closed_with_1008() {
    let mut s = scene(
        DbKind::Sqlite,
        |c| {
            c.ws.rate_per_sec = 1;
            c.ws.rate_burst = 3;
            c.ws.max_rate_violations = 5;
        },
        json!({"name": "r"}),
    )
    .await;
    let flooder = s.app.register("flooder").await;
    let mut f = s.app.ws(&s.room_id, &flooder, "").await;
    f.welcome().await;
    for i in 0..20 {
        // The server may close mid-flood; later sends then fail, which is the point.
        if !f
            .try_send(json!({"type": "ping", "client_time_ms": i, "ref": format!("f{i}")}))
            .await
        {
            break;
        }
    }
    let (frames, closed) = f.closed().await;
    let limited: Vec<&Value> = frames
        .iter()
        .filter(|x| x["code"] == "rate_limited")
        .collect();
    assert!(!limited.is_empty(), "{frames:?}");
    assert!(
        limited
            .iter()
            .all(|x| x["ref"].as_str().is_some_and(|r| r.starts_with('f')))
    );
    assert_eq!(
        closed,
        Closed::Code(1008, "rate limit exceeded repeatedly".into())
    );
    // The bystander (its own budget) is fine.
    s.bystander_unaffected().await;
    s.app.stop().await;
}

/// Binary frames and pings count against the rate as text frames do: flooding with them
/// closes the socket with 1008 too (without an error frame per frame: no amplification).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_and_ping_floods_are_closed_with_1008() {
    use tokio_tungstenite::tungstenite::Message;
    for kind in ["binary", "ping"] {
        let mut s = scene(
            DbKind::Sqlite,
            |c| {
                c.ws.rate_per_sec = 1;
                c.ws.rate_burst = 3;
                c.ws.max_rate_violations = 5;
            },
            json!({"name": "r"}),
        )
        .await;
        let flooder = s.app.register("flooder").await;
        let mut f = s.app.ws(&s.room_id, &flooder, "").await;
        f.welcome().await;
        for i in 0..20u8 {
            let msg = match kind {
                "binary" => Message::binary(vec![i; 8]),
                _ => Message::Ping(vec![i].into()),
            };
            if !f.try_send_message(msg).await {
                break;
            }
        }
        let (frames, closed) = f.closed().await;
        assert_eq!(
            closed,
            Closed::Code(1008, "rate limit exceeded repeatedly".into()),
            "{kind}"
        );
        let errors = frames.iter().filter(|x| x["type"] == "error").count();
        assert!(
            errors <= 3,
            "{kind}: one error per accepted frame at most: {frames:?}"
        );
        s.bystander_unaffected().await;
        s.app.stop().await;
    }
}
