//! Getting a run ready: check the nodes, make an identity per member, create the rooms,
//! connect every member to its node and wait for every welcome, then let the join storm
//! (one `member_joined` per member, to everyone already in the room) settle, so that the
//! measured phase starts with quiet rooms and nothing else in flight.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::api::{Api, Identity};
use crate::args::{Args, Identity as IdentityKind};
use crate::clock::now_ns;
use crate::member::{self, Member, Who};
use crate::plan::{self, Seat};
use crate::stats::Stats;

/// One connected member with where it sits.
pub struct Joined {
    pub seat: Seat,
    pub member: Member,
}

/// Every member of every room, connected and welcomed; rooms have settled.
pub async fn run(
    args: &Args,
    api: &Api,
    stats: &Arc<Stats>,
    closing: &Arc<AtomicBool>,
) -> Result<Vec<Joined>> {
    for n in &args.nodes {
        api.health(n).await?;
    }
    let run_id = format!("{:x}", (now_ns() / 1_000_000) % 0xff_ffff);
    let seats = plan::seats(
        args.rooms,
        args.members,
        args.publishers_per_room,
        args.nodes.len(),
    );
    let started = Instant::now();
    let identities: Vec<Identity> = stream::iter(seats.iter())
        .map(|s| {
            let node = &args.nodes[s.node];
            let name = format!("load-{run_id}-{}-{}", s.room, s.index);
            async move {
                match args.identity {
                    IdentityKind::Guest => api.guest(node, &name).await,
                    IdentityKind::Register => api.register(node, &name).await,
                }
            }
        })
        .buffered(args.concurrency)
        .try_collect()
        .await?;
    eprintln!(
        "{} identities in {:.1?}",
        identities.len(),
        started.elapsed()
    );

    // The first seat of each room (a publisher) owns it; rooms are created on the first node.
    let rooms: Vec<String> = stream::iter(0..args.rooms)
        .map(|r| {
            let owner = &identities[r * args.members];
            let name = format!("load {run_id} room {r}");
            async move { api.create_room(&args.nodes[0], owner, &name).await }
        })
        .buffered(args.concurrency)
        .try_collect()
        .await?;

    let started = Instant::now();
    let joined: Vec<Joined> = stream::iter(seats.into_iter().zip(identities).enumerate())
        .map(|(i, (seat, identity))| {
            let url = member::ws_url(&args.nodes[seat.node], &rooms[seat.room], &identity.token);
            let who = Who {
                user_id: identity.user_id.clone(),
                shard: i,
            };
            let (stats, closing) = (stats.clone(), closing.clone());
            async move {
                let m = member::connect(&url, who, stats, closing, args.setup_timeout)
                    .await
                    .with_context(|| {
                        format!(
                            "member {} of room {} on {}",
                            seat.index, seat.room, args.nodes[seat.node]
                        )
                    })?;
                anyhow::Ok(Joined { seat, member: m })
            }
        })
        .buffered(args.concurrency)
        .try_collect()
        .await?;
    eprintln!(
        "{} members connected and welcomed in {:.1?}",
        joined.len(),
        started.elapsed()
    );
    settle(&joined, args.rooms, args.setup_timeout).await?;
    if stats.unexpected_closes.load(Relaxed) > 0 {
        bail!("sockets closed during setup: {:?}", stats.errors());
    }
    Ok(joined)
}

/// Wait until, in every room, every member has seen the same latest `seq` and nothing has
/// moved for a few polls.
async fn settle(joined: &[Joined], rooms: usize, timeout: Duration) -> Result<()> {
    const POLL: Duration = Duration::from_millis(100);
    const QUIET_POLLS: u32 = 3;
    let started = Instant::now();
    let mut last_total = u64::MAX;
    let mut quiet = 0;
    loop {
        let mut lo = vec![u64::MAX; rooms];
        let mut hi = vec![0u64; rooms];
        for j in joined {
            let s = j.member.progress.last_seq.load(Relaxed);
            lo[j.seat.room] = lo[j.seat.room].min(s);
            hi[j.seat.room] = hi[j.seat.room].max(s);
        }
        let total: u64 = hi.iter().sum();
        let agreed = lo == hi;
        quiet = if agreed && total == last_total {
            quiet + 1
        } else {
            0
        };
        if quiet >= QUIET_POLLS {
            eprintln!("rooms settled in {:.1?}", started.elapsed());
            return Ok(());
        }
        if started.elapsed() > timeout {
            let behind = lo.iter().zip(&hi).filter(|(l, h)| l != h).count();
            bail!("rooms did not settle within {timeout:?} ({behind} rooms with members behind)");
        }
        last_total = total;
        tokio::time::sleep(POLL).await;
    }
}
