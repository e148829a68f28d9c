//! The viewer's side: a replica of the server's snapshot, rebuilt from a
//! whole frame and patched by each change.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{Change, Closed, Common, Delta, Frame, Full, WireError, back, from_ms, read_event};
use crate::feed::event::Event;
use crate::feed::snapshot::{Settings, Silence, Snapshot};
use crate::liveness::Rules;

/// A viewer's copy of the server's snapshot, brought up to date frame by
/// frame.
#[derive(Default)]
pub struct Replica {
    snapshot: Option<Arc<Snapshot>>,
}

impl Replica {
    /// The snapshot after `frame`, and the events it brought.
    pub fn apply(&mut self, frame: &[u8]) -> Result<(Arc<Snapshot>, Vec<Event>), WireError> {
        let taken_mono = Instant::now();
        let (snapshot, events) = match postcard::from_bytes::<Frame>(frame)? {
            Frame::Full(full) => (rebuild(*full, taken_mono)?, Vec::new()),
            Frame::Delta(delta) => {
                let base = self.snapshot.as_deref().ok_or(WireError::NoBase)?;
                patch(base, *delta, taken_mono)?
            }
        };
        let snapshot = Arc::new(snapshot);
        self.snapshot = Some(Arc::clone(&snapshot));
        Ok((snapshot, events))
    }
}

fn settle(s: &mut Snapshot, common: Common) -> Result<(), WireError> {
    s.taken = from_ms(common.taken_ms)?;
    s.counters = common.counters.into();
    s.fleet_silent = match common.fleet_silent {
        Some((since, silent, clients)) => Some(Silence {
            since: from_ms(since)?,
            silent: usize::try_from(silent).unwrap_or(usize::MAX),
            clients: usize::try_from(clients).unwrap_or(usize::MAX),
        }),
        None => None,
    };
    Ok(())
}

fn rebuild(full: Full, taken_mono: Instant) -> Result<Snapshot, WireError> {
    let (threshold, cursor, recover, leave_us) = full.rules;
    let settings = Settings {
        tick: Duration::from_micros(full.tick_us),
        rules: Rules {
            threshold,
            cursor,
            recover,
            leave_timeout: Duration::from_micros(leave_us),
        },
    };
    let mut s = Snapshot::empty(full.listen, settings);
    s.admin = full.admin.map(Arc::from);
    s.started = from_ms(full.started_ms)?;
    settle(&mut s, full.common)?;
    s.taken_mono = taken_mono;
    let taken = s.taken;
    s.clients = (full.clients.into_iter())
        .map(|row| row.view(taken, taken_mono))
        .collect::<Result<_, _>>()?;
    full.windows.apply(&mut s.clients)?;
    let history = full.history.into_iter().map(Closed::closed);
    s.history = Arc::new(history.collect::<Result<_, _>>()?);
    let recent = full.recent.iter().map(|l| read_event(l));
    s.recent = Arc::new(recent.collect::<Result<_, _>>()?);
    Ok(s)
}

fn patch(
    base: &Snapshot,
    delta: Delta,
    taken_mono: Instant,
) -> Result<(Snapshot, Vec<Event>), WireError> {
    let mut s = base.clone();
    let (history_len, recent_len) = (delta.common.history_len, delta.common.recent_len);
    settle(&mut s, delta.common)?;
    s.taken_mono = taken_mono;
    let taken = s.taken;
    let mut at = -1i64;
    let mut gone = Vec::with_capacity(delta.removed.len());
    for gap in delta.removed {
        at += i64::from(gap) + 1;
        gone.push(at as usize);
    }
    if let Some(&beyond) = gone.iter().find(|&&i| i >= s.clients.len()) {
        return Err(WireError::NoSuchRow(beyond));
    }
    let mut next = gone.iter().peekable();
    let mut index = 0;
    s.clients.retain(|_| {
        let keep = next.peek() != Some(&&index);
        if !keep {
            next.next();
        }
        index += 1;
        keep
    });
    let mut at = -1i64;
    for change in delta.changed {
        let (Change::Moved { gap, .. } | Change::Whole { gap, .. }) = change;
        at += i64::from(gap) + 1;
        let row = at as usize;
        let client = s.clients.get_mut(row).ok_or(WireError::NoSuchRow(row))?;
        match change {
            Change::Whole { row, .. } => *client = row.view(taken, taken_mono)?,
            Change::Moved {
                beats,
                streak,
                seen_ago_ms,
                phi,
                ..
            } => {
                client.heartbeats = client.heartbeats.saturating_add(beats);
                client.liveness.streak = client.liveness.streak.saturating_add(streak);
                client.last_seen = seen_ago_ms.map(|ago| back(taken, ago));
                client.phi = phi;
            }
        }
    }
    for row in delta.added {
        s.clients.push(row.view(taken, taken_mono)?);
    }
    delta.windows.apply(&mut s.clients)?;
    let closed = delta.closed.into_iter().map(Closed::closed);
    let closed = closed.collect::<Result<Vec<_>, _>>()?;
    let history = Arc::make_mut(&mut s.history);
    history.extend(closed);
    while history.len() > history_len as usize {
        history.pop_front();
    }
    let events = (delta.events.iter().map(|l| read_event(l))).collect::<Result<Vec<_>, _>>()?;
    let recent = Arc::make_mut(&mut s.recent);
    recent.extend(events.iter().cloned());
    while recent.len() > recent_len as usize {
        recent.pop_front();
    }
    Ok((s, events))
}
