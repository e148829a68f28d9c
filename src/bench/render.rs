//! `render`: the dashboard drawing frames of 1,000 to 100,000 clients on
//! ratatui's `TestBackend`, with the same code the real dashboard runs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;

use super::spread;
use crate::feed::snapshot::{ClientView, Settings, Snapshot};
use crate::front::tui::render::render;
use crate::front::tui::view::ViewState;
use crate::liveness::{Liveness, Rules};
use crate::protocol::Status;

#[derive(Serialize)]
pub(super) struct Render {
    width: u16,
    height: u16,
    /// Median time to draw one frame.
    rows_1000_ms: f64,
    rows_10000_ms: f64,
    rows_100000_ms: f64,
    /// Median time to take in a new snapshot (row order), which happens at
    /// most once per published snapshot, not once per frame.
    refresh_100000_ms: f64,
}

pub(super) fn frames() -> Result<Render> {
    let (width, height) = (200, 50);
    let mut medians = Vec::new();
    let mut refresh = Duration::ZERO;
    for n in [1_000, 10_000, 100_000] {
        let snapshot = Arc::new(synthetic_snapshot(n));
        let mut view = ViewState::new(Arc::clone(&snapshot));
        let mut terminal = Terminal::new(TestBackend::new(width, height))?;
        let mut frames = Vec::new();
        for i in 0..40 {
            // Move the selection so each frame has something to redraw.
            view.move_by(if i % 2 == 0 { 1 } else { -1 });
            let started = Instant::now();
            terminal.draw(|frame| render(frame, &mut view))?;
            frames.push(started.elapsed());
        }
        medians.push(spread(frames).p50_ms);
        if n == 100_000 {
            let mut takes = Vec::new();
            for _ in 0..10 {
                let started = Instant::now();
                view.show(Arc::new(synthetic_snapshot(n)));
                takes.push(started.elapsed());
            }
            refresh = Duration::from_secs_f64(spread(takes).p50_ms / 1000.0);
        }
    }
    Ok(Render {
        width,
        height,
        rows_1000_ms: medians[0],
        rows_10000_ms: medians[1],
        rows_100000_ms: medians[2],
        refresh_100000_ms: refresh.as_secs_f64() * 1000.0,
    })
}

/// A snapshot of `n` alive clients, as the registry would publish it.
fn synthetic_snapshot(n: usize) -> Snapshot {
    let settings = Settings {
        tick: Duration::from_secs(1),
        rules: Rules::default(),
    };
    let mut snapshot = Snapshot::empty(SocketAddr::from(([127, 0, 0, 1], 14000)), settings);
    let ip: Arc<str> = Arc::from("127.0.0.1");
    snapshot.clients = (0..n)
        .map(|i| ClientView {
            id: i as u64,
            peer: SocketAddr::from((
                [127, 0, (i >> 16) as u8, (i >> 8) as u8],
                (i & 0xffff) as u16,
            )),
            ip: Some(Arc::clone(&ip)),
            pid: Some(i as u32),
            reported: Some(Status::Alive),
            liveness: Liveness {
                streak: 3,
                ..Liveness::default()
            },
            heartbeats: i as u64,
            connected_at: snapshot.started,
            last_seen: Some(snapshot.taken),
            held: None,
            phi: None,
            reconnects: 0,
            flaps: 0,
        })
        .collect();
    snapshot
}
