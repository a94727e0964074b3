//! Two binary nodes on one PostgreSQL and Redis behind the shipped nginx config. Both pages
//! come in through nginx; the node under Bob's page is killed (SIGKILL, no shutdown frame).
//! Right after, Alice chats, seeks and promotes him; Bob's page reconnects through nginx to
//! the surviving node by itself, catches up on what it missed and follows again.

use super::*;
use crate::cluster::Cluster;
use synctv_testkit::Nginx;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_whose_node_is_killed_catches_up_on_the_other() {
    let cluster = Cluster::start(0).await;
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut nodes = vec![
        Some(cluster.binary_node(dirs[0].path(), "web-1")),
        Some(cluster.binary_node(dirs[1].path(), "web-2")),
    ];
    let addrs: Vec<String> = nodes.iter().flatten().map(|n| n.addr.clone()).collect();
    let nginx = Nginx::start(&addrs);
    let base = format!("http://{}", nginx.addr());
    let host = video_host().await;
    let driver = Driver::start().await;
    let (a, b) = (driver.page().await, driver.page().await);

    open_room(&a, &b, &base, &host, false).await;
    click(&a, "#btn-play").await;
    let started = js(&a, NOW).await.as_f64().unwrap();
    convergence(&a, &b, started, "play").await;

    // Kill Bob's node. If nginx put both pages on it, Alice comes back first.
    let doomed = node_of(&b).await;
    assert!(!doomed.is_empty(), "bob's page knows its node");
    let alice_moves = node_of(&a).await == doomed;
    let i = nodes
        .iter()
        .position(|n| {
            let log = n.as_ref().unwrap().log.lock().unwrap();
            log.iter().any(|l| l.contains(&doomed))
        })
        .expect("a node logged the id bob's page reports");
    nodes[i].take().unwrap().kill_hard();
    let moved = |who: &str| {
        format!(
            "const c = window.synctv.connection(); /* {who} */ return !!c && !!c.nodeId \
             && c.nodeId !== {doomed:?} && c.ws.readyState === 1 && !!c.state"
        )
    };
    if alice_moves {
        until(&a, "alice on the surviving node", &moved("alice")).await;
    }

    // Right away (Bob is reconnecting): a message, a seek and his promotion to admin.
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

    until(&b, "bob on the surviving node", &moved("bob")).await;
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
    let steady = js(&a, NOW).await.as_f64().unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let p = p99_since(&a, &b, steady).await;
    assert!(p <= 100.0, "in sync on the surviving node: p99 {p} ms");

    let _ = a.close().await;
    let _ = b.close().await;
    drop(nginx);
    drop(nodes);
    cluster.stop().await;
}
