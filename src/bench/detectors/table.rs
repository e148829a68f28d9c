//! The replay's figures as a table for people: a block per trace, a row
//! per setting.

use std::fmt::Write;

use super::{Report, Row};

/// The report as a table.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "hbmon bench detectors: tick {} ms, seed {:#x}\n\
         false: live clients sent to leave (per client-hour, and in all); closed: live clients closed;\n\
         leave, close: seconds from a stopped client's last heartbeat (p50, p99)",
        report.tick_ms, report.seed
    );
    let _ = writeln!(
        out,
        "{:<12} {:<22} {:>10} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>10}",
        "trace",
        "detector",
        "false/c-h",
        "false",
        "closed",
        "leave50",
        "leave99",
        "close50",
        "close99",
        "undetected"
    );
    let mut last = "";
    for row in &report.rows {
        if row.trace != last && !last.is_empty() {
            out.push('\n');
        }
        last = &row.trace;
        line(&mut out, row);
    }
    out
}

fn line(out: &mut String, row: &Row) {
    let secs = |s: Option<f64>| s.map_or_else(|| "-".to_owned(), |s| format!("{s:.1}"));
    let undetected = if row.stopped == 0 {
        "-".to_owned()
    } else {
        format!("{}/{}", row.undetected, row.stopped)
    };
    let _ = writeln!(
        out,
        "{:<12} {:<22} {:>10.3} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>10}",
        row.trace,
        row.detector,
        row.false_leave_per_client_hour,
        row.false_leave,
        row.false_close,
        secs(row.leave_p50_s),
        secs(row.leave_p99_s),
        secs(row.close_p50_s),
        secs(row.close_p99_s),
        undetected
    );
}
