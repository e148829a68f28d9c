//! The server's totals agree with its rows, whatever viewers ask for.

mod common;

use std::time::Duration;

use common::{Beater, Serve};

/// Asking for a client's details (as the dashboard's details pane does
/// every second) once let the registry bring the client's row up to date
/// without adding its new heartbeats to the totals, so `/metrics` and the
/// stats line fell behind the rows for good.
#[test]
fn heartbeat_totals_match_the_rows_while_a_viewer_reads_details() {
    let mut serve = Serve::start(&["--tick", "100ms", "--stats-every", "100ms"]);
    let beater = Beater::start(serve.addr, 7, Duration::from_millis(5));
    let peer = beater.local;
    serve.wait_for_client(peer, |c| c["heartbeats"].as_u64() >= Some(40));
    // Heartbeats keep arriving while a viewer asks for the details.
    for _ in 0..40 {
        serve.command(&format!("show {peer}"));
        serve.wait_for("details", |_| true);
    }
    let _silent = beater.stop();
    let heartbeats = serve.client(peer).expect("still connected")["heartbeats"].as_u64();
    // Nothing more arrives: the totals must reach the row's count.
    serve.wait_for("stats", |s| s["frames"].as_u64() == heartbeats);
}
