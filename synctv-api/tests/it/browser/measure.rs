//! Measuring how closely the follower's video tracks the leader's: positions sampled in
//! each page every 100 ms against the wall clock, compared here.

use super::*;

pub(super) const START_SAMPLING: &str = "const v = document.getElementById('video'); window.__s = []; \
    clearInterval(window.__t); window.__t = setInterval(() => __s.push([performance.timeOrigin + \
    performance.now(), v.currentTime * 1000, v.paused ? 1 : 0]), 100); return true;";
pub(super) const NOW: &str = "return performance.timeOrigin + performance.now();";

/// (wall time ms, position ms, paused) samples since START_SAMPLING.
pub(super) async fn samples(page: &Client) -> Vec<(f64, f64, bool)> {
    let v = js(page, "return window.__s").await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s[0].as_f64().unwrap(),
                s[1].as_f64().unwrap(),
                s[2].as_f64().unwrap() == 1.0,
            )
        })
        .collect()
}

/// The follower's position minus the leader's (interpolated), for each follower sample at
/// or after `from` where both are playing.
pub(super) fn diffs(
    leader: &[(f64, f64, bool)],
    follower: &[(f64, f64, bool)],
    from: f64,
) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for &(t, pos, paused) in follower.iter().filter(|s| s.0 >= from) {
        let Some(i) = leader.windows(2).position(|w| w[0].0 <= t && t <= w[1].0) else {
            continue;
        };
        let (a, b) = (leader[i], leader[i + 1]);
        if paused || a.2 || b.2 || b.1 < a.1 {
            out.push((t, f64::INFINITY)); // not both playing yet (or the leader jumped)
            continue;
        }
        let at = a.1 + (b.1 - a.1) * (t - a.0) / (b.0 - a.0);
        out.push((t, pos - at));
    }
    out
}

/// How long after `change` the follower came within 100 ms of the leader and stayed there
/// for at least 1 s.
pub(super) fn converged_after(d: &[(f64, f64)], change: f64) -> Option<f64> {
    (0..d.len()).find_map(|i| {
        let steady = d[i..]
            .iter()
            .take_while(|s| s.0 <= d[i].0 + 1000.0)
            .all(|s| s.1.abs() < 100.0);
        (steady && d.last()?.0 >= d[i].0 + 1000.0).then(|| d[i].0 - change)
    })
}

pub(super) fn p99(d: &[(f64, f64)]) -> f64 {
    let mut v: Vec<f64> = d.iter().map(|s| s.1.abs()).collect();
    v.sort_by(f64::total_cmp);
    v[(v.len() * 99).div_ceil(100) - 1]
}

/// Wait for the change at `change` (wall ms) to reach the follower, then return the
/// convergence time in ms.
pub(super) async fn convergence(
    leader: &Client,
    follower: &Client,
    change: f64,
    what: &str,
) -> f64 {
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let d = diffs(&samples(leader).await, &samples(follower).await, change);
    converged_after(&d, change).unwrap_or_else(|| {
        let tail: Vec<_> = d
            .iter()
            .map(|s| (s.0 - change).round() as i64)
            .zip(d.iter().map(|s| s.1.round()))
            .collect();
        panic!("{what}: the follower never converged; (ms after change, diff): {tail:?}")
    })
}

/// The follower's p99 distance from the leader over the samples since `from`.
pub(super) async fn p99_since(leader: &Client, follower: &Client, from: f64) -> f64 {
    let d = diffs(&samples(leader).await, &samples(follower).await, from);
    assert!(!d.is_empty(), "no samples since {from}");
    p99(&d)
}

/// The room's playback as this page knows it.
pub(super) const PLAYBACK: &str = "return window.synctv.connection().state.playback";

/// The user's seek to `to` seconds (or beyond) reached the room rather than being pulled
/// back by the player: the room's position and the page's video are both past it.
pub(super) async fn took_the_seek(page: &Client, to: f64) {
    let pb = js(page, PLAYBACK).await;
    let room = pb["position_ms"].as_f64().unwrap() / 1000.0;
    let video = js(page, "return document.getElementById('video').currentTime").await;
    let video = video.as_f64().unwrap();
    assert!(
        (to - 0.5..to + 20.0).contains(&room) && (to..to + 20.0).contains(&video),
        "the seek to {to} s did not take: room {pb}, video at {video} s"
    );
}
