//! What one client or one room can hold: the playlist's bytes (so a welcome is always
//! deliverable), sockets per user, per room and per client address (behind trusted proxies
//! only), and the maximum session length.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::*;
use crate::dual;

/// Once seen: 500 movies with 2 KB URLs made every later socket drop without a close frame
/// and without `welcome`. Now the playlist is bounded in bytes, and everyone still joins.
async fn a_full_playlist_never_blocks_the_welcome(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "big"})).await;
    let id = room["room_id"].as_str().unwrap();
    let long = "a".repeat(1990);
    let (mut added, mut refused) = (0, None);
    for i in 0..500 {
        let (status, body) = app
            .post(
                &format!("/api/rooms/{id}/movies"),
                Some(&owner.token),
                json!({"url": format!("https://example.com/{i}/{long}"), "title": format!("m{i}")}),
            )
            .await;
        if status == StatusCode::CREATED {
            added += 1;
        } else {
            refused = Some((status, body));
            break;
        }
    }
    let (status, body) = refused.expect("the playlist's byte budget runs out before 500 movies");
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "playlist_full", "{body}");
    let budget = app.config.rooms.max_playlist_bytes;
    assert!(added > 0 && added * 2000 <= budget, "{added} movies added");
    // The owner and a newcomer both get the whole room.
    for user in [&owner, &app.register("newcomer").await] {
        let mut ws = app.ws(id, user, "").await;
        let w = ws.welcome().await;
        assert_eq!(w["room"]["playlist"].as_array().unwrap().len(), added);
        ws.close().await;
    }
    // Removing one makes room again.
    let first = app
        .get(
            &format!("/api/rooms/{id}/movies?limit=1"),
            Some(&owner.token),
        )
        .await
        .1;
    let movie = first["items"][0]["movie_id"].as_str().unwrap().to_string();
    let (status, _) = app
        .delete(
            &format!("/api/rooms/{id}/movies/{movie}"),
            Some(&owner.token),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = app
        .post(
            &format!("/api/rooms/{id}/movies"),
            Some(&owner.token),
            json!({"url": format!("https://example.com/again/{long}"), "title": "again"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
dual!(a_full_playlist_never_blocks_the_welcome);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_token_opens_sockets_until_its_limit() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let limit = app.config.limits.max_connections_per_user;
    assert_eq!(limit, 10, "the seed's default");
    let mut open = Vec::new();
    for _ in 0..limit {
        let mut ws = app.ws(id, &alice, "").await;
        ws.welcome().await;
        open.push(ws);
    }
    let (status, body) = app
        .try_ws(id, &alice.token, "")
        .await
        .err()
        .expect("refused");
    assert_eq!(status, 429);
    assert_eq!(body["error"]["code"], "too_many_connections", "{body}");
    // Another user is not affected.
    let bob = app.register("bob").await;
    let mut b = app.ws(id, &bob, "").await;
    b.welcome().await;
    // A closed socket frees its slot.
    open.pop().unwrap().close().await;
    eventually("alice's slot is free", || async {
        match app.try_ws(id, &alice.token, "").await {
            Ok(mut ws) => {
                ws.welcome().await;
                true
            }
            Err((status, _)) => {
                assert_eq!(status, 429);
                false
            }
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_room_holds_at_most_its_limit_of_sockets() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| c.limits.max_connections_per_room = 3).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "small"})).await;
    let other = app.create_room(&owner, json!({"name": "other"})).await;
    let (id, other) = (
        room["room_id"].as_str().unwrap(),
        other["room_id"].as_str().unwrap(),
    );
    let mut open = Vec::new();
    for i in 0..3 {
        let u = app.register(&format!("u{i}")).await;
        let mut ws = app.ws(id, &u, "").await;
        ws.welcome().await;
        open.push(ws);
    }
    let late = app.register("late").await;
    let (status, body) = app
        .try_ws(id, &late.token, "")
        .await
        .err()
        .expect("refused");
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "room_at_capacity", "{body}");
    let mut ws = app.ws(other, &late, "").await;
    ws.welcome().await;
}

/// Per client address, where the address is the TCP peer unless the peer is a trusted
/// proxy; then the rightmost untrusted `X-Forwarded-For` hop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_limits_believe_only_trusted_proxies() {
    for trusted in [true, false] {
        let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
            c.limits.max_connections_per_address = 2;
            if trusted {
                c.server.trusted_proxies = vec!["127.0.0.0/8".into()];
            }
        })
        .await;
        let owner = app.register("owner").await;
        let room = app.create_room(&owner, json!({"name": "r"})).await;
        let id = room["room_id"].as_str().unwrap();
        let mut users = Vec::new();
        for i in 0..4 {
            users.push(app.register(&format!("u{i}")).await);
        }
        let connect = |u: &User, xff: &str| {
            let url = app.ws_url(&format!("/api/rooms/{id}/ws?token={}", u.token));
            let xff = xff.to_string();
            async move { WsClient::connect_with(&url, &[("x-forwarded-for", &xff)]).await }
        };
        let mut a = connect(&users[0], "6.6.6.6, 198.51.100.1").await.unwrap();
        let mut b = connect(&users[1], "198.51.100.1").await.unwrap();
        a.welcome().await;
        b.welcome().await;
        let third = connect(&users[2], "198.51.100.1").await;
        let other = connect(&users[3], "198.51.100.2").await;
        if trusted {
            let (status, body) = third.err().expect("the address is full");
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (429, Some("too_many_connections"))
            );
            other.expect("another address").welcome().await;
        } else {
            // The header is the client's own claim: every socket is 127.0.0.1's.
            let (status, _) = third.err().expect("127.0.0.1 is full");
            assert_eq!(status, 429);
            assert!(other.is_err(), "127.0.0.1 is still full");
        }
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_close_after_the_maximum_session_length() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| {
        c.ws.max_connection_secs = 1;
        c.ws.heartbeat_interval_secs = 1;
    })
    .await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let mut ws = app.ws(id, &alice, "").await;
    let w = ws.welcome().await;
    let (_, closed) = ws.closed().await;
    assert_eq!(
        closed,
        Closed::Code(4006, "maximum session length reached".into())
    );
    // It may come straight back and resume.
    let (seq, epoch) = (
        w["seq"].as_u64().unwrap(),
        w["epoch"].as_str().unwrap().to_string(),
    );
    let mut again = app
        .ws(id, &alice, &format!("&since={seq}&epoch={epoch}"))
        .await;
    assert_eq!(again.welcome().await["resumed"], true);
}

/// Raised limits (here a 2 MB playlist: 500 movies whose 2 KB URL is also their title) still
/// give every socket its welcome, in one frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raised_limits_still_fit_the_welcome() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| c.rooms.max_playlist_bytes = 4 << 20).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "big"})).await;
    let id = room["room_id"].as_str().unwrap();
    let long = "b".repeat(1990);
    for i in 0..app.config.rooms.max_playlist_len {
        let (status, body) = app
            .post(
                &format!("/api/rooms/{id}/movies"),
                Some(&owner.token),
                json!({"url": format!("https://example.com/{i:03}/{long}")}),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let mut ws = app.ws(id, &owner, "").await;
    let w = ws.welcome().await;
    assert_eq!(w["room"]["playlist"].as_array().unwrap().len(), 500);
}
