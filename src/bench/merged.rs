//! What `hbmon top` over several servers costs the viewer at the issue's
//! scale (5 servers of 15,000 clients): taking in one server's snapshot,
//! filtering and sorting every merged row, and drawing a frame, with the
//! dashboard's own code on ratatui's `TestBackend`. A measurement to run,
//! not a test that times anything:
//!
//! `cargo test --release --lib bench::merged -- --ignored --nocapture`

use std::sync::Arc;
use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::{spread, synthetic};
use crate::feed::merged::Part;
use crate::feed::query::Sort;
use crate::front::tui::render::{fit, render};
use crate::front::tui::view::{Screen, ViewState};

const SERVERS: usize = 5;
const CLIENTS: usize = 15_000;

/// The median of `runs` timings of `f`, in milliseconds.
fn median(runs: usize, mut f: impl FnMut()) -> f64 {
    let samples = (0..runs)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed()
        })
        .collect();
    spread(samples).p50_ms
}

#[test]
#[ignore = "a measurement: run it with --release --ignored --nocapture"]
fn merged_table_of_75000_clients() {
    let parts = (0..SERVERS)
        .map(|i| Part {
            name: Arc::from(format!("server-{i}")),
            address: Arc::from(format!("127.0.0.1:1400{i}")),
            ..Part::local(Arc::new(synthetic::snapshot(CLIENTS)))
        })
        .collect();
    let mut view = ViewState::of(parts);
    view.screen = Screen::Live;
    let fresh = Arc::new(synthetic::snapshot(CLIENTS));
    // Every client is on every server (the same ip and pid): the failover
    // marks' worst case.
    let update_ms = median(20, || view.update(2, Arc::clone(&fresh)));
    view.query.sort = Sort::Beats;
    view.query.filter = "server-3".to_owned();
    let filter_sort_ms = median(20, || view.refresh());
    let shown = view.rows().len();
    view.query.filter.clear();
    view.refresh();
    let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("a test terminal");
    let mut i = 0;
    let frame_ms = median(40, || {
        i += 1;
        view.move_by(if i % 2 == 0 { 1 } else { -1 });
        let drawn = terminal.draw(|frame| {
            fit(&mut view, frame.area());
            render(frame, &view)
        });
        drawn.expect("a frame");
    });
    let report = serde_json::json!({
        "servers": SERVERS,
        "rows": view.rows().len(),
        "filtered_rows": shown,
        "one_servers_snapshot_taken_in_ms": update_ms,
        "filter_and_sort_ms": filter_sort_ms,
        "frame_200x50_ms": frame_ms,
    });
    println!("{report:#}");
}
