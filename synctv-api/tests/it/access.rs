//! Access changes act on sockets that are already open: guests turned off, a password set
//! or changed, a member muted, removed or banned, a token expiring; on every node of a
//! cluster. Concurrent settings patches do not undo each other.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use synctv_core::auth::TokenKeys;
use synctv_core::ids::UserId;

use crate::cluster::Cluster;
use crate::common::*;

const ACCESS_CHANGED: (u16, &str) = (4008, "access changed");

fn code(c: Closed) -> (u16, String) {
    match c {
        Closed::Code(n, r) => (n, r),
        Closed::Dropped => panic!("dropped without a close frame"),
    }
}

/// An owner, a member and a guest (made on `api`), the member and the guest with a socket
/// each in the owner's room (on `sockets`: another node, in the cluster test).
struct Scene {
    owner: User,
    member: User,
    guest: User,
    id: String,
    g: WsClient,
    m: WsClient,
}

async fn scene(api: &TestApp, sockets: &TestApp) -> Scene {
    let owner = api.register("owner").await;
    let member = api.register("member").await;
    let guest = api.guest("visitor").await;
    let room = api.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap().to_string();
    let mut g = sockets.ws(&id, &guest, "").await;
    let mut m = sockets.ws(&id, &member, "").await;
    g.welcome().await;
    m.welcome().await;
    Scene {
        owner,
        member,
        guest,
        id,
        g,
        m,
    }
}

async fn guests_off(api: &TestApp, s: &Scene) {
    let (status, _) = api
        .patch(
            &format!("/api/rooms/{}", s.id),
            Some(&s.owner.token),
            json!({"settings": {"guests_allowed": false}}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turning_guests_off_closes_guest_sockets_only() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let s = scene(&app, &app).await;
    guests_off(&app, &s).await;
    let (mut g, mut m) = (s.g, s.m);
    let (_, closed) = g.closed().await;
    assert_eq!(code(closed), (ACCESS_CHANGED.0, ACCESS_CHANGED.1.into()));
    let (st, body) = app.try_ws(&s.id, &s.guest.token, "").await.err().unwrap();
    assert_eq!(
        (st, body["error"]["code"].as_str()),
        (403, Some("guests_not_allowed"))
    );
    // The member's socket goes on.
    m.chat("still here").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setting_or_changing_the_password_closes_everyone_below_admin() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let owner = app.register("owner").await;
    let admin = app.register("admin").await;
    let member = app.register("member").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    app.ws(id, &admin, "").await.welcome().await;
    let (s, _) = app
        .patch(
            &format!("/api/rooms/{id}/members/{}", admin.user_id),
            Some(&owner.token),
            json!({"role": "admin"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for (i, pw) in ["first-secret", "second-secret"].iter().enumerate() {
        let query = if i == 0 {
            String::new()
        } else {
            "&password=first-secret".into()
        };
        let mut o = app.ws(id, &owner, "").await;
        let mut a = app.ws(id, &admin, "").await;
        let mut m = app.ws(id, &member, &query).await;
        o.welcome().await;
        a.welcome().await;
        m.welcome().await;
        let (s, body) = app
            .patch(
                &format!("/api/rooms/{id}"),
                Some(&owner.token),
                json!({"password": pw}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{body}");
        let (_, closed) = m.closed().await;
        assert_eq!(
            code(closed),
            (4008, "access changed".into()),
            "password {pw}"
        );
        // Owner and admin stay; the member is back in with the new password only.
        o.chat("owner stays").await;
        a.chat("admin stays").await;
        let (st, body) = app.try_ws(id, &member.token, &query).await.err().unwrap();
        assert_eq!(
            (st, body["error"]["code"].as_str()),
            (403, Some("wrong_room_password"))
        );
        app.ws(id, &member, &format!("&password={pw}"))
            .await
            .welcome()
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn muting_acts_on_an_open_socket() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let owner = app.register("owner").await;
    let member = app.register("member").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let mut m = app.ws(id, &member, "").await;
    m.welcome().await;
    m.chat("before").await;
    let (s, _) = app
        .patch(
            &format!("/api/rooms/{id}/members/{}", member.user_id),
            Some(&owner.token),
            json!({"permissions": []}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    m.recv_type("event").await; // member_updated
    let err = m
        .request_error(json!({"type": "chat", "text": "after"}))
        .await;
    assert_eq!(err["code"], "forbidden", "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_member_closes_their_sockets_and_a_ban_keeps_them_out() {
    let app = TestApp::spawn(DbKind::Sqlite).await;
    let owner = app.register("owner").await;
    let member = app.register("member").await;
    let guest = app.guest("visitor").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let mut m1 = app.ws(id, &member, "").await;
    let mut m2 = app.ws(id, &member, "").await;
    m1.welcome().await;
    m2.welcome().await;
    let (s, _) = app
        .delete(
            &format!("/api/rooms/{id}/members/{}", member.user_id),
            Some(&owner.token),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    for ws in [&mut m1, &mut m2] {
        let (_, closed) = ws.closed().await;
        assert_eq!(code(closed), (4007, "removed from the room".into()));
    }
    let (s, body) = app
        .get(
            &format!("/api/rooms/{id}/members?limit=100"),
            Some(&owner.token),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        !body.to_string().contains(&member.user_id),
        "the membership row is gone: {body}"
    );
    // Removed, not banned: may come back.
    app.ws(id, &member, "").await.welcome().await;
    // Banned (a guest here): closed and kept out.
    let mut g = app.ws(id, &guest, "").await;
    g.welcome().await;
    let (s, _) = app
        .delete(
            &format!("/api/rooms/{id}/members/{}?ban=true", guest.user_id),
            Some(&owner.token),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, closed) = g.closed().await;
    assert_eq!(code(closed).0, 4007);
    let (st, body) = app.try_ws(id, &guest.token, "").await.err().unwrap();
    assert_eq!((st, body["error"]["code"].as_str()), (403, Some("banned")));
    // Only admins remove; nobody removes the owner.
    let (s, _) = app
        .delete(
            &format!("/api/rooms/{id}/members/{}", owner.user_id),
            Some(&member.token),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app
        .delete(
            &format!("/api/rooms/{id}/members/{}", owner.user_id),
            Some(&owner.token),
        )
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_closes_when_its_token_expires() {
    let app = TestApp::spawn_with(DbKind::Sqlite, |c| c.ws.heartbeat_interval_secs = 1).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    // A token of the server's secret that lives two seconds.
    let short = TokenKeys::new(TEST_SECRET.as_bytes(), 2)
        .issue(&UserId::from(owner.user_id.as_str()), "owner", false)
        .unwrap();
    let mut ws = app.try_ws(id, &short, "").await.expect("valid for now");
    ws.welcome().await;
    let (_, closed) = ws.closed().await;
    assert_eq!(code(closed), (4008, "token expired".into()));
}

/// Patches of different settings at once: every one of them takes effect.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_settings_patches_do_not_undo_each_other() {
    let app = TestApp::spawn(DbKind::Postgres).await;
    let owner = app.register("owner").await;
    for round in 0..5 {
        let room = app
            .create_room(&owner, json!({"name": format!("r{round}")}))
            .await;
        let id = room["room_id"].as_str().unwrap();
        let patches = [
            json!({"settings": {"hidden": true}}),
            json!({"settings": {"guests_allowed": false}}),
            json!({"settings": {"chat_role": "admin"}}),
            json!({"name": "renamed"}),
        ];
        let path = format!("/api/rooms/{id}");
        let results = join_all(
            patches
                .iter()
                .map(|p| app.patch(&path, Some(&owner.token), p.clone())),
        )
        .await;
        assert!(
            results.iter().all(|(s, _)| *s == StatusCode::OK),
            "{results:?}"
        );
        let (_, r) = app
            .get(&format!("/api/rooms/{id}"), Some(&owner.token))
            .await;
        let s = &r["settings"];
        assert_eq!(
            (s["hidden"].as_bool(), s["guests_allowed"].as_bool()),
            (Some(true), Some(false)),
            "{r}"
        );
        assert_eq!(
            (s["chat_role"].as_str(), r["name"].as_str()),
            (Some("admin"), Some("renamed")),
            "{r}"
        );
    }
}

/// A kick made on one node closes the sockets on the others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_changes_reach_sockets_on_every_node() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let s = scene(a, b).await;
    guests_off(a, &s).await;
    let (id, owner, member, mut g, mut m) = (&s.id, s.owner, s.member, s.g, s.m);
    assert_eq!(code(g.closed().await.1).0, 4008);
    let (s, _) = a
        .delete(
            &format!("/api/rooms/{id}/members/{}", member.user_id),
            Some(&owner.token),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(code(m.closed().await.1).0, 4007);
    cluster.stop().await;
}

/// Deleting an account closes its sockets (4007) and its tokens stop working at once, on
/// every node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_account_closes_its_sockets_and_voids_its_tokens() {
    let cluster = Cluster::start(2).await;
    let (a, b) = (cluster.node(0), cluster.node(1));
    let owner = a.register("owner").await;
    let leaving = a.register("leaving").await;
    let room = a.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let mut ws = b.ws(id, &leaving, "").await;
    ws.welcome().await;
    // Node b has seen the account exist (and cached it).
    let (s, _) = b
        .get(&format!("/api/rooms/{id}"), Some(&leaving.token))
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = a
        .delete_with(
            "/api/auth/me",
            Some(&leaving.token),
            json!({"password": "wrong"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the password confirms it");
    let (s, _) = a
        .delete_with(
            "/api/auth/me",
            Some(&leaving.token),
            json!({"password": "secret-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, closed) = ws.closed().await;
    assert_eq!(code(closed), (4007, "account deleted".into()));
    for node in [a, b] {
        let (s, body) = node
            .get(&format!("/api/rooms/{id}"), Some(&leaving.token))
            .await;
        assert_eq!(
            (s, body["error"]["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_token"))
        );
        let (st, _) = node.try_ws(id, &leaving.token, "").await.err().unwrap();
        assert_eq!(st, 401);
    }
    let (s, _) = a
        .post(
            "/api/auth/login",
            None,
            json!({"username": "leaving", "password": "secret-pw"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    cluster.stop().await;
}
