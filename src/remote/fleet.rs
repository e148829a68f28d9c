//! Several servers' feeds for one dashboard (`hbmon top a b c`), from a set
//! of servers that may change while it runs: a fixed list is a `watch`
//! that never changes; servers found by discovery come and go through the
//! same one.
//!
//! Each server is followed on tasks of its own ([`follow`](super::follow)),
//! so one that goes away, refuses or sends garbage never slows the others;
//! a server taken out of the set stops being followed at once.

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::servers::ServerSpec;
use crate::feed::sources::{Source, Sources};

/// One server followed, and how to stop following it.
struct Followed {
    spec: ServerSpec,
    source: Source,
    stop: CancellationToken,
}

/// Follows every server `specs` lists, now and as it changes, until
/// `stop`. A list that is never changed again (its sender dropped) stays
/// followed as it is.
pub fn follow(mut specs: watch::Receiver<Vec<ServerSpec>>, stop: CancellationToken) -> Sources {
    let mut followed = Vec::new();
    let first = specs.borrow_and_update().clone();
    renew(&mut followed, first, &stop);
    let (list, receiver) = watch::channel(sources(&followed));
    let watching = stop.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = watching.cancelled() => return,
                changed = specs.changed() => {
                    if changed.is_err() {
                        // No more changes: follow these until the end.
                        return watching.cancelled().await;
                    }
                }
            }
            let next = specs.borrow_and_update().clone();
            renew(&mut followed, next, &watching);
            list.send_replace(sources(&followed));
        }
    });
    Sources {
        list: receiver,
        stop,
    }
}

/// Brings `followed` to `specs`: a server unchanged is kept (with its feed
/// and what it shows), a new or changed one is followed afresh, one gone is
/// no longer followed.
fn renew(followed: &mut Vec<Followed>, specs: Vec<ServerSpec>, stop: &CancellationToken) {
    let mut old = std::mem::take(followed);
    for spec in specs {
        match old.iter().position(|f| f.spec == spec) {
            Some(i) => followed.push(old.swap_remove(i)),
            None => {
                let own = stop.child_token();
                let (feed, version) = super::follow(spec.api(), own.clone());
                let address = spec.connect.to_string();
                let mut source = Source::of(&spec.name, &address, spec.read_only, feed);
                source.version = version;
                followed.push(Followed {
                    spec,
                    source,
                    stop: own,
                });
            }
        }
    }
    for gone in old {
        gone.stop.cancel();
    }
}

fn sources(followed: &[Followed]) -> Vec<Source> {
    followed.iter().map(|f| f.source.clone()).collect()
}
