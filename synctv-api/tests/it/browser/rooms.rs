//! The owner's controls and their effect on a guest, signing out and in, and a room with
//! a password: the parts of the web client that are about rooms and accounts, not sync.

use super::*;

/// Alice, the owner, renames the room and restricts chat to members (Bob, a guest, is told
/// so in words), removes both movies, removes Bob (his page goes back to the list saying
/// why) and deletes the room. Then she signs out and logs back in.
pub(super) async fn admin_controls(a: &Client, b: &Client) {
    until(
        b,
        "no settings for a guest",
        "return document.getElementById('admin').hidden",
    )
    .await;
    click(a, "#admin summary").await;
    assert_accessible(a, "alice's room view with the settings open").await;
    fill(a, "set-name", "film club").await;
    js(
        a,
        "document.getElementById('set-chat').value = 'member'; return true",
    )
    .await;
    click(a, "#settings-form button[type=submit]").await;
    until(
        a,
        "the settings saved",
        &text_in("status", "Settings saved"),
    )
    .await;
    until(
        b,
        "the new name at bob's",
        &text_in("room-title", "film club"),
    )
    .await;
    screenshot(a, "admin.png").await;
    fill(b, "chat-text", "can I still talk?").await;
    click(b, "#chat-form button").await;
    until(
        b,
        "bob told why his message was refused",
        &text_in("status", "may not chat in this room"),
    )
    .await;
    assert!(
        js(a, &text_in("chat", "can I still talk?")).await == json!(false),
        "a refused message reached the room"
    );

    for title in ["Test pattern", "Slow copy"] {
        click(
            a,
            &format!("#playlist button[aria-label='Remove {title} from the playlist']"),
        )
        .await;
        until(
            b,
            &format!("{title} gone at bob's"),
            &format!("return !document.getElementById('playlist').textContent.includes({title:?})"),
        )
        .await;
    }
    until(
        b,
        "the empty playlist at bob's",
        &text_in("playlist", "The playlist is empty"),
    )
    .await;

    click(a, "#members button[aria-label='Remove bob from the room']").await;
    until_shown(b, "bob back at the room list", "rooms").await;
    until(b, "bob told why", &text_in("status", "removed")).await;
    until(
        a,
        "bob gone from alice's list",
        "return !document.getElementById('members').textContent.includes('bob')",
    )
    .await;

    click(a, "#delete-room").await;
    click(a, "#delete-confirm").await;
    until_shown(a, "alice back at the room list", "rooms").await;
    until(a, "alice told why", &text_in("status", "deleted")).await;

    // Alice signs out and logs back in: a wrong password is told in words.
    click(a, "#logout").await;
    until_shown(a, "the sign-in view", "auth").await;
    fill(a, "acct-user", "alice").await;
    fill(a, "acct-pass", "not her password").await;
    click(a, "#account-form button[value=login]").await;
    until(
        a,
        "alice told her password is wrong",
        &text_in("status", "invalid username or password"),
    )
    .await;
    fill(a, "acct-pass", "correct horse battery").await;
    click(a, "#account-form button[value=login]").await;
    until_shown(a, "the room list after logging in", "rooms").await;
    until(a, "alice named", &text_in("whoami", "Signed in as alice")).await;
}

/// Alice creates a room with a password. Bob opens its link and is asked for it in the
/// page; a wrong one is refused in words and asked for again, the right one lets him in.
pub(super) async fn password_room(a: &Client, b: &Client) {
    fill(a, "room-name", "locked").await;
    fill(a, "room-pass", "open sesame").await;
    click(a, "#create-form button").await;
    until(
        a,
        "alice in the locked room",
        &text_in("status", "Connected"),
    )
    .await;
    let link = js(a, "return document.getElementById('share-link').value").await;

    b.goto(link.as_str().unwrap()).await.unwrap();
    let asked = "return !document.getElementById('room-pass-form').hidden";
    until(b, "bob asked for the password", asked).await;
    fill(b, "join-pass", "open says me").await;
    click(b, "#room-pass-form button").await;
    until(
        b,
        "bob told the password is wrong",
        &text_in("status", "wrong room password"),
    )
    .await;
    until(b, "bob asked again", asked).await;
    fill(b, "join-pass", "open sesame").await;
    click(b, "#room-pass-form button").await;
    until(b, "bob in the locked room", &text_in("status", "Connected")).await;
    until(a, "bob in alice's member list", &text_in("members", "bob")).await;
}
