//! Two (or more) real WebSocket clients in one room: every event once, in seq order.

use serde_json::json;

use crate::common::*;
use crate::dual;

async fn two_clients_see_each_others_chat_and_playback_once_in_order(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app
        .create_room(&alice, json!({"name": "Movie night"}))
        .await;
    let room_id = room["room_id"].as_str().unwrap();
    let movie = app.add_movie(&alice, room_id, "big-buck-bunny").await;
    let movie_id = movie["movie_id"].as_str().unwrap();

    let mut a = app.ws(room_id, &alice, "").await;
    let wa = a.welcome().await;
    let base = wa["seq"].as_u64().unwrap();
    assert_eq!(wa["resumed"], false);
    assert!(wa["epoch"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(wa["room"]["room_id"], room_id);
    assert_eq!(wa["room"]["playlist"][0]["movie_id"], movie_id);
    assert_eq!(
        wa["room"]["members"].as_array().unwrap().len(),
        0,
        "the snapshot precedes alice's own join"
    );
    let joined = a.event("member_joined").await;
    assert_eq!(
        joined["seq"],
        base + 1,
        "first event after welcome is welcome.seq + 1"
    );
    assert_eq!(
        joined["data"],
        json!({"user_id": alice.user_id, "username": "alice", "role": "owner"}),
        "the contract's user_id and username, plus the role every node needs"
    );

    let mut b = app.ws(room_id, &bob, "").await;
    let wb = b.welcome().await;
    assert_eq!(wb["seq"], base + 1);
    assert_eq!(wb["epoch"], wa["epoch"]);
    let members = wb["room"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["user_id"], alice.user_id.as_str());
    assert_eq!(members[0]["connections"], 1);
    let bj = b.event("member_joined").await;
    assert_eq!(bj["seq"], base + 2);
    assert_eq!(bj["data"]["username"], "bob");

    // They chat and control playback in turn; every frame each client receives is kept.
    let mut seen_a = vec![joined.clone()];
    let mut seen_b = vec![bj.clone()];
    let mut acks = Vec::new();
    let steps = [
        (true, json!({"type": "chat", "text": "hi bob"})),
        (false, json!({"type": "chat", "text": "hi alice"})),
        (
            true,
            json!({"type": "playback", "action": "set_movie", "movie_id": movie_id}),
        ),
        (
            false,
            json!({"type": "playback", "action": "play", "position_ms": 1500, "base_version": 1}),
        ),
    ];
    for (from_alice, frame) in steps {
        let (client, log) = if from_alice {
            (&mut a, &mut seen_a)
        } else {
            (&mut b, &mut seen_b)
        };
        let (before, ack) = client.request(frame).await;
        log.extend(before);
        acks.push(ack["seq"].as_u64().unwrap());
    }
    assert_eq!(
        acks,
        [base + 3, base + 4, base + 5, base + 6],
        "acks carry the produced event's seq"
    );
    seen_a.extend(a.sync().await);
    seen_b.extend(b.sync().await);

    // Each client saw every event from its join on exactly once, in order, and nothing else.
    let expected: Vec<(u64, String)> = vec![
        (base + 1, "member_joined".into()),
        (base + 2, "member_joined".into()),
        (base + 3, "chat".into()),
        (base + 4, "chat".into()),
        (base + 5, "playback".into()),
        (base + 6, "playback".into()),
    ];
    assert_eq!(events(&seen_a), expected);
    assert_eq!(events(&seen_b), expected[1..].to_vec());
    assert!(
        seen_a.iter().chain(&seen_b).all(|f| f["type"] == "event"),
        "no stray frames"
    );

    let chat = seen_b.iter().find(|e| e["seq"] == base + 3).unwrap();
    assert_eq!(chat["data"]["text"], "hi bob");
    assert_eq!(chat["data"]["user_id"], alice.user_id.as_str());
    assert_eq!(chat["data"]["username"], "alice");
    assert!(chat["data"]["message_id"].as_str().is_some());
    assert!(chat["event_id"].as_str().is_some());
    assert!(chat["origin_node"].as_str().is_some());
    assert!(chat["ts_ms"].as_u64().is_some());

    let play = seen_a.iter().find(|e| e["seq"] == base + 6).unwrap();
    let d = &play["data"];
    assert_eq!(d["movie_id"], movie_id);
    assert_eq!(d["playing"], true);
    assert_eq!(d["position_ms"], 1500);
    assert_eq!(d["rate"], 1.0);
    assert_eq!(d["version"], 2);
    assert_eq!(d["user_id"], bob.user_id.as_str());
    assert!(d["updated_at_ms"].as_u64().is_some());

    // Bob leaves: alice gets member_left once; the room's member count drops.
    b.close().await;
    let left = a.event("member_left").await;
    assert_eq!(left["seq"], base + 7);
    assert_eq!(left["data"]["user_id"], bob.user_id.as_str());
    assert_eq!(left["data"]["username"], "bob");
    let (_, info) = app
        .get(&format!("/api/rooms/{room_id}"), Some(&alice.token))
        .await;
    assert_eq!(info["member_count"], 1);
    assert_eq!(info["playback"]["version"], 2);
    a.close().await;
    app.stop().await;
}
dual!(two_clients_see_each_others_chat_and_playback_once_in_order);

async fn second_connection_of_a_user_does_not_rejoin(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap();
    let mut a1 = app.ws(room_id, &alice, "").await;
    a1.welcome().await;
    a1.event("member_joined").await;
    let mut a2 = app.ws(room_id, &alice, "").await;
    let w2 = a2.welcome().await;
    let members = w2["room"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 1, "each member listed once");
    assert_eq!(
        members[0]["connections"], 2,
        "every open connection counted, this one included"
    );
    // No member_joined for the second connection, and none for its leaving.
    assert!(events(&a1.sync().await).is_empty());
    a2.close().await;
    let seq = a1.chat("still here").await;
    let frames = a1.sync().await;
    assert_eq!(events(&frames), vec![]);
    assert_eq!(
        seq,
        w2["seq"].as_u64().unwrap() + 1,
        "no member_left was published in between"
    );
    a1.close().await;
    app.stop().await;
}
dual!(second_connection_of_a_user_does_not_rejoin);

async fn rest_changes_reach_sockets_as_events(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let viewer = app.register("viewer").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap();
    let mut v = app.ws(room_id, &viewer, "").await;
    v.welcome().await;
    v.event("member_joined").await;

    let movie = app.add_movie(&owner, room_id, "m1").await;
    let e = v.event("movie_added").await;
    assert_eq!(e["data"], json!({"movie": movie}));

    let (s, patched) = app
        .patch(
            &format!("/api/rooms/{room_id}"),
            Some(&owner.token),
            json!({"name": "renamed"}),
        )
        .await;
    assert_eq!(s, 200, "{patched}");
    let e = v.event("room_updated").await;
    assert_eq!(e["data"]["room"]["name"], "renamed");
    assert_eq!(e["data"]["room"]["room_id"], room_id);

    let (s, _) = app
        .delete(
            &format!(
                "/api/rooms/{room_id}/movies/{}",
                movie["movie_id"].as_str().unwrap()
            ),
            Some(&owner.token),
        )
        .await;
    assert_eq!(s, 204);
    let e = v.event("movie_removed").await;
    assert_eq!(e["data"], json!({"movie_id": movie["movie_id"]}));

    let (s, body) = app
        .delete(&format!("/api/rooms/{room_id}"), Some(&owner.token))
        .await;
    assert_eq!(s, 204);
    assert_eq!(body, serde_json::Value::Null, "204 has an empty body");
    let e = v.event("room_deleted").await;
    assert_eq!(e["data"], json!({}));
    let (_, closed) = v.closed().await;
    assert_eq!(closed, Closed::Code(4002, "room deleted".into()));
    app.stop().await;
}
dual!(rest_changes_reach_sockets_as_events);

async fn ping_is_answered_with_server_time(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let u = app.register("u").await;
    let room = app.create_room(&u, json!({"name": "r"})).await;
    let mut c = app.ws(room["room_id"].as_str().unwrap(), &u, "").await;
    c.welcome().await;
    c.event("member_joined").await;
    c.send(json!({"type": "ping", "client_time_ms": 12345}))
        .await;
    let pong = c.recv().await;
    assert_eq!(pong["type"], "pong");
    assert_eq!(pong["client_time_ms"], 12345);
    let now = synctv_core::time::now_ms();
    let server = pong["server_time_ms"].as_u64().unwrap();
    assert!(server <= now && now - server < 10_000);
    // With a ref: a pong and exactly one ack with seq null.
    c.send(json!({"type": "ping", "client_time_ms": 1, "ref": "p1"}))
        .await;
    let pong = c.recv().await;
    assert_eq!(
        (pong["type"].as_str(), pong["ref"].as_str()),
        (Some("pong"), Some("p1"))
    );
    let ack = c.recv().await;
    assert_eq!(ack, json!({"type": "ack", "ref": "p1", "seq": null}));
    c.close().await;
    app.stop().await;
}
dual!(ping_is_answered_with_server_time);

/// The ping extension: `drift_ms` reports land in `synctv_sync_drift_seconds` as absolute
/// seconds; a report beyond a day is an `invalid_frame` error and counts nothing.
#[tokio::test]
async fn drift_reports_fill_the_sync_histogram() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let u = app.register("u").await;
    let room = app.create_room(&u, json!({"name": "r"})).await;
    let mut c = app.ws(room["room_id"].as_str().unwrap(), &u, "").await;
    c.welcome().await;
    for drift in [-30.0, 8.0, 1500.0] {
        c.request(json!({"type": "ping", "client_time_ms": 1, "drift_ms": drift}))
            .await;
    }
    let e = c
        .request_error(json!({"type": "ping", "client_time_ms": 1, "drift_ms": 1e12}))
        .await;
    assert_eq!(e["code"], "invalid_frame");
    let count = |le: &'static str| {
        let app = &app;
        async move {
            app.metric_where(
                "synctv_sync_drift_seconds_bucket",
                &[&format!("le=\"{le}\"")],
            )
            .await
        }
    };
    assert_eq!(app.metric("synctv_sync_drift_seconds_count").await, 3.0);
    assert_eq!(count("0.01").await, Some(1.0), "8 ms");
    assert_eq!(count("0.04").await, Some(2.0), "30 ms is absolute");
    assert_eq!(count("2").await, Some(3.0), "1.5 s");
    let sum = app.metric("synctv_sync_drift_seconds_sum").await;
    assert!((sum - 1.538).abs() < 1e-9, "{sum}");
    c.close().await;
    app.stop().await;
}
