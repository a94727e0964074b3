//! Reconnecting with `since` and `epoch`: replay exactly what was missed, or a fresh snapshot.

use serde_json::{Value, json};

use crate::common::*;
use crate::dual;

async fn resume_replays_exactly_the_missed_events(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("alice").await;
    let bob = app.register("bob").await;
    let room = app.create_room(&alice, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap();
    let mut a = app.ws(room_id, &alice, "").await;
    a.welcome().await;
    a.event("member_joined").await;
    let mut b = app.ws(room_id, &bob, "").await;
    let wb = b.welcome().await;
    let epoch = wb["epoch"].as_str().unwrap().to_string();
    b.event("member_joined").await;
    let last_seen = b.chat("before the drop").await;
    b.sync().await;
    assert_eq!(
        events(&a.sync().await),
        vec![
            (last_seen - 1, "member_joined".into()),
            (last_seen, "chat".into())
        ]
    );
    b.close().await;

    // While bob is away: his own leave, then alice's chatter.
    let mut missed = vec![a.event("member_left").await["seq"].as_u64().unwrap()];
    for i in 0..5 {
        missed.push(a.chat(&format!("missed {i}")).await);
    }
    let mut b = app
        .ws(room_id, &bob, &format!("&since={last_seen}&epoch={epoch}"))
        .await;
    let w = b.welcome().await;
    assert_eq!(w["resumed"], true);
    assert_eq!(w["epoch"], epoch.as_str());
    assert_eq!(
        w["seq"],
        *missed.last().unwrap(),
        "welcome.seq is the latest seq"
    );
    let mut replayed = Vec::new();
    for _ in &missed {
        replayed.push(b.recv().await);
    }
    assert_eq!(
        replayed
            .iter()
            .map(|f| f["seq"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        (last_seen + 1..=last_seen + 6).collect::<Vec<_>>(),
        "replay starts at since+1, gapless"
    );
    assert_eq!(replayed[1]["data"]["text"], "missed 0");
    // Then live events: bob's own rejoin, nothing doubled.
    let rejoin = b.event("member_joined").await;
    assert_eq!(rejoin["seq"], last_seen + 7);
    let more = b.sync().await;
    assert!(
        events(&more).is_empty(),
        "nothing after the live rejoin: {more:?}"
    );
    app.stop().await;
}
dual!(resume_replays_exactly_the_missed_events);

async fn resume_with_nothing_missed_replays_nothing(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap();
    let mut other = app.ws(room_id, &alice, "").await; // keeps alice present
    let w0 = other.welcome().await;
    other.event("member_joined").await;
    let epoch = w0["epoch"].as_str().unwrap();
    let seq = other.chat("x").await;
    let mut c = app
        .ws(room_id, &alice, &format!("&since={seq}&epoch={epoch}"))
        .await;
    let w = c.welcome().await;
    assert_eq!(
        (w["resumed"].as_bool(), w["seq"].as_u64()),
        (Some(true), Some(seq))
    );
    assert!(c.sync().await.is_empty());
    app.stop().await;
}
dual!(resume_with_nothing_missed_replays_nothing);

async fn unresumable_points_get_a_fresh_snapshot(db: DbKind) {
    let app = TestApp::spawn_with(db, |c| c.rooms.history_size = 3).await;
    let alice = app.register("alice").await;
    let room = app.create_room(&alice, json!({"name": "r"})).await;
    let room_id = room["room_id"].as_str().unwrap();
    let mut a = app.ws(room_id, &alice, "").await;
    let w = a.welcome().await;
    let epoch = w["epoch"].as_str().unwrap().to_string();
    a.event("member_joined").await;
    for i in 0..6 {
        a.chat(&format!("c{i}")).await;
    }
    let latest = 7;
    let check = |w: &Value, why: &str| {
        assert_eq!(w["resumed"], false, "{why}: {w}");
        assert_eq!(w["seq"], latest, "{why}");
        let chat = w["room"]["recent_chat"].as_array().unwrap();
        assert_eq!(
            chat.last().unwrap()["text"],
            "c5",
            "{why}: the snapshot is current"
        );
    };
    let cases = [
        (
            format!("&since=1&epoch={epoch}"),
            "older than the retained history",
        ),
        (
            "&since=6&epoch=some-other-epoch".to_string(),
            "another epoch",
        ),
        (
            "&since=6".to_string(),
            "since without epoch is not a resume",
        ),
        (format!("&since=99&epoch={epoch}"), "ahead of the server"),
    ];
    for (q, why) in cases {
        let mut c = app.ws(room_id, &alice, &q).await;
        let w = c.welcome().await;
        check(&w, why);
        assert!(
            events(&c.sync().await).is_empty(),
            "{why}: no replay after a snapshot"
        );
        c.close().await;
    }
    // Within the retained window it resumes.
    let mut c = app
        .ws(room_id, &alice, &format!("&since=4&epoch={epoch}"))
        .await;
    let w = c.welcome().await;
    assert_eq!(w["resumed"], true);
    assert_eq!(
        events(&c.sync().await),
        vec![(5, "chat".into()), (6, "chat".into()), (7, "chat".into())]
    );
    let refused = app
        .try_ws(room_id, &alice.token, "&since=abc&epoch=x")
        .await
        .err()
        .unwrap();
    assert_eq!(
        (refused.0, refused.1["error"]["code"].as_str()),
        (400, Some("invalid_query"))
    );
    app.stop().await;
}
dual!(unresumable_points_get_a_fresh_snapshot);
