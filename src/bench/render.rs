//! `render`: the dashboard drawing frames of 1,000 to 100,000 clients on
//! ratatui's `TestBackend`, with the same code the real dashboard runs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Result;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde::Serialize;

use super::{spread, synthetic};
use crate::front::tui::render::{fit, render};
use crate::front::tui::view::ViewState;

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
        let snapshot = Arc::new(synthetic::snapshot(n));
        let mut view = ViewState::new(Arc::clone(&snapshot));
        let mut terminal = Terminal::new(TestBackend::new(width, height))?;
        let mut frames = Vec::new();
        for i in 0..40 {
            // Move the selection so each frame has something to redraw.
            view.move_by(if i % 2 == 0 { 1 } else { -1 });
            let started = Instant::now();
            terminal.draw(|frame| {
                fit(&mut view, frame.area());
                render(frame, &view)
            })?;
            frames.push(started.elapsed());
        }
        medians.push(spread(frames).p50_ms);
        if n == 100_000 {
            let mut takes = Vec::new();
            for _ in 0..10 {
                let started = Instant::now();
                view.show(Arc::new(synthetic::snapshot(n)));
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
