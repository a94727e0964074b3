//! Three binary nodes on one PostgreSQL and Redis behind the shipped nginx config; both
//! pages come in through nginx. First the node under Bob's page is killed (SIGKILL: no
//! shutdown frame, the socket just dies); right after, Alice chats, seeks and promotes him,
//! and Bob's page must reconnect through nginx to a living node by itself, catch up on all
//! of it and follow again. Then the node Bob landed on is stopped (SIGTERM: it sends
//! `shutdown` and drains); Bob's page must move on after the given delay, to the last node.

use super::*;
use crate::binary::{Proc, terminate};
use crate::cluster::Cluster;
use synctv_testkit::Nginx;

/// A script that is true once the page is welcomed on a node not in `gone`.
fn on_a_node_other_than(gone: &[String]) -> String {
    format!(
        "const c = window.synctv.connection(); const gone = {gone:?}; \
         return !!c && !!c.ws && c.ws.readyState === 1 && !!c.state && !!c.nodeId \
           && !gone.includes(c.nodeId)"
    )
}

/// The node (of `nodes`) whose log names `node_id`, taken out of the list.
fn take_node(nodes: &mut [Option<Proc>], node_id: &str) -> Proc {
    let i = nodes
        .iter()
        .position(|n| {
            n.as_ref()
                .is_some_and(|n| n.log.lock().unwrap().iter().any(|l| l.contains(node_id)))
        })
        .unwrap_or_else(|| panic!("no running node logged {node_id}"));
    nodes[i].take().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_follows_the_room_across_a_node_kill_and_a_drain() {
    let cluster = Cluster::start(0).await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let mut nodes: Vec<Option<Proc>> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| Some(cluster.binary_node(d.path(), &format!("web-{i}"))))
        .collect();
    let addrs: Vec<String> = nodes.iter().flatten().map(|n| n.addr.clone()).collect();
    let nginx = Nginx::start(&addrs);
    let base = format!("http://{}", nginx.addr());
    let host = video_host().await;
    let driver = Driver::start().await;
    let (a, b) = (driver.page("alice").await, driver.page("bob").await);

    open_room(&a, &b, &base, &host.url, false).await;
    click(&a, "#btn-play").await;
    let started = js(&a, NOW).await.as_f64().unwrap();
    convergence(&a, &b, started, "play").await;

    // SIGKILL Bob's node. If nginx put both pages on it, Alice comes back first.
    let mut gone = vec![node_of(&b).await];
    assert!(!gone[0].is_empty(), "bob's page knows its node");
    let alice_moves = node_of(&a).await == gone[0];
    take_node(&mut nodes, &gone[0]).kill_hard();
    if alice_moves {
        until(&a, "alice on a living node", &on_a_node_other_than(&gone)).await;
    }

    // Right away, while Bob reconnects: a message, a seek and his promotion to admin.
    fill(&a, "chat-text", "you missed this").await;
    click(&a, "#chat-form button").await;
    let seeked = js(
        &a,
        &format!("document.getElementById('video').currentTime = 40; {NOW}"),
    )
    .await
    .as_f64()
    .unwrap();
    js(
        &a,
        "const s = document.querySelector(\"#members select[aria-label='Role of bob']\"); \
         s.value = 'admin'; s.dispatchEvent(new Event('change')); return true",
    )
    .await;
    until(&a, "bob promoted", &text_in("status", "bob is now admin")).await;

    until(&b, "bob on a living node", &on_a_node_other_than(&gone)).await;
    until(
        &b,
        "the missed message",
        &text_in("chat", "you missed this"),
    )
    .await;
    until(
        &b,
        "the settings panel for bob the admin",
        "return !document.getElementById('admin').hidden",
    )
    .await;
    convergence(&a, &b, seeked, "seek while away").await;
    took_the_seek(&b, 40.0).await;

    // SIGTERM the node Bob is on now: it sends `shutdown`, and Bob's page moves to the
    // last node after the delay it was given, without waiting for the drain to end.
    gone.push(node_of(&b).await);
    let mut draining = take_node(&mut nodes, &gone[1]);
    let stopped = tokio::task::spawn_blocking(move || terminate(&mut draining));
    until(
        &b,
        "bob told of the restart",
        &text_in("status", "restarting"),
    )
    .await;
    until(&b, "bob on the last node", &on_a_node_other_than(&gone)).await;
    assert!(stopped.await.unwrap().success(), "the drained node exits 0");
    until(&a, "alice on the last node", &on_a_node_other_than(&gone)).await;
    fill(&b, "chat-text", "moved twice").await;
    click(&b, "#chat-form button").await;
    until(
        &a,
        "bob's message from the last node",
        &text_in("chat", "moved twice"),
    )
    .await;
    let steady = js(&a, NOW).await.as_f64().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p = p99_since(&a, &b, steady).await;
    assert!(p <= 100.0, "in sync on the last node: p99 {p} ms");

    let _ = a.close().await;
    let _ = b.close().await;
    drop(nginx);
    drop(nodes);
    cluster.stop().await;
}
