//! Stored content is safe to show: names, room names, titles and chat refuse bidi
//! controls, invisible characters and controls (422 `validation_failed` over REST, an
//! `error` frame with that code over the WebSocket), and movie URLs are stored normalized,
//! http(s) only, without credentials.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::*;
use crate::dual;

fn assert_refused(what: &str, (s, body): (StatusCode, Value), field: &str) {
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {body}");
    assert_eq!(body["error"]["code"], "validation_failed", "{what}: {body}");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(msg.contains(field), "{what}: {msg}");
}

async fn unsafe_text_is_refused_everywhere(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let register = |name: &str| json!({"username": name, "password": "secret-pw"});
    for name in [
        "alice\u{202E}",
        "\u{200B}alice",
        "ali\u{200D}ce",
        "\u{200F}alice",
        "a\u{1B}[31m",
    ] {
        let res = app.post("/api/auth/register", None, register(name)).await;
        assert_refused(&format!("register {name:?}"), res, "username");
        let res = app
            .post("/api/auth/guest", None, json!({"name": name}))
            .await;
        assert_refused(&format!("guest {name:?}"), res, "name");
    }
    let owner = app.register("owner").await;

    let res = app
        .post(
            "/api/rooms",
            Some(&owner.token),
            json!({"name": "film\u{2066}night"}),
        )
        .await;
    assert_refused("room name", res, "name");
    let room = app
        .create_room(&owner, json!({"name": "Movie night \u{2764}\u{FE0F}"}))
        .await;
    assert_eq!(
        room["name"], "Movie night \u{2764}\u{FE0F}",
        "emoji stay as sent"
    );
    let id = room["room_id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/api/rooms/{id}"),
            Some(&owner.token),
            json!({"name": "x\u{FEFF}"}),
        )
        .await;
    assert_refused("room rename", res, "name");

    let movies = format!("/api/rooms/{id}/movies");
    let res = app
        .post(
            &movies,
            Some(&owner.token),
            json!({"url": "https://example.com/a.mp4", "title": "trailer\u{202E}4pm.exe"}),
        )
        .await;
    assert_refused("movie title", res, "title");

    let mut c = app.ws(id, &owner, "").await;
    c.welcome().await;
    c.event("member_joined").await;
    for text in [
        "hi\u{202D}there",
        "\u{2060}",
        "bell\u{7}",
        "line\u{2028}sep",
    ] {
        let err = c.request_error(json!({"type": "chat", "text": text})).await;
        assert_eq!(err["code"], "validation_failed", "{text:?}: {err}");
        assert!(err["message"].as_str().unwrap().contains("text"), "{err}");
    }
    // What chat needs still passes: newlines, tabs, emoji sequences, Persian with ZWNJ.
    let fine = "line 1\n\tline 2 👩\u{200D}💻 می\u{200C}خواهم";
    let (before, _) = c.request(json!({"type": "chat", "text": fine})).await;
    let ev = match before.into_iter().find(|f| f["kind"] == "chat") {
        Some(ev) => ev,
        None => c.event("chat").await,
    };
    assert_eq!(ev["data"]["text"], fine);
    c.close().await;
    app.stop().await;
}
dual!(unsafe_text_is_refused_everywhere);

async fn movie_urls_are_normalized_and_checked(db: DbKind) {
    let app = TestApp::spawn(db).await;
    let owner = app.register("owner").await;
    let room = app.create_room(&owner, json!({"name": "r"})).await;
    let id = room["room_id"].as_str().unwrap();
    let movies = format!("/api/rooms/{id}/movies");
    let mut c = app.ws(id, &owner, "").await;
    c.welcome().await;
    c.event("member_joined").await;

    let (s, movie) = app
        .post(
            &movies,
            Some(&owner.token),
            json!({"url": " HTTPS://Example.COM:443/films/../a b.mp4#t=5 "}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{movie}");
    let normalized = "https://example.com/a%20b.mp4#t=5";
    assert_eq!(movie["url"], normalized);
    assert_eq!(
        movie["title"], normalized,
        "the default title is the stored URL"
    );
    let ev = c.event("movie_added").await;
    assert_eq!(
        ev["data"]["movie"]["url"], normalized,
        "members see the stored form"
    );
    let (_, list) = app.get(&movies, Some(&owner.token)).await;
    assert_eq!(list["items"][0]["url"], normalized);

    let long = format!(
        "https://example.com/{}",
        "a".repeat(app.config.rooms.max_movie_url_len)
    );
    for url in [
        "javascript:alert(1)",
        "data:text/html;base64,PHNjcmlwdD4=",
        "file:///etc/passwd",
        "https://user:pw@example.com/a.mp4",
        "https://example.com@evil.example/a.mp4",
        "java\tscript:alert(1)",
        long.as_str(),
    ] {
        let res = app
            .post(
                &movies,
                Some(&owner.token),
                json!({"url": url, "title": "t"}),
            )
            .await;
        assert_refused(&format!("url {:.40}", url), res, "url");
    }
    let (_, list) = app.get(&movies, Some(&owner.token)).await;
    assert_eq!(list["total"], 1, "nothing refused was stored");
    c.close().await;
    app.stop().await;
}
dual!(movie_urls_are_normalized_and_checked);
