//! What hbmon asks of the operating system: signals turned into one
//! cancellation, the open-file limit a server or fleet of thousands of
//! sockets runs into, and the CPU time used.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use nix::time::ClockId;
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGINT (Ctrl-C), SIGTERM (a service
/// manager's stop) or SIGHUP (the terminal or SSH session went away), so
/// every part that must stop cleanly waits on one token instead of racing
/// for the signal. A hangup is a clean stop too: left to its default it
/// would kill the process before clients get their close frames and the
/// journal its last lines.
pub fn cancel_on_terminate(token: CancellationToken) -> Result<()> {
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
        token.cancel();
    });
    Ok(())
}

/// Raises the soft open-file limit to the hard limit, once, and returns the
/// limit now in force. Each client is one file descriptor on each side.
pub fn raise_open_files() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    })
}

/// Files the process itself holds besides what [`OpenFiles`] lists: the
/// standard streams, the listeners, the runtime's own, a metrics scrape's
/// reads of /proc, and a connection being accepted only to be refused.
pub const OWN_FILES: u64 = 64;

/// Open files one part of a server may hold at once.
pub struct OpenFiles {
    pub count: u64,
    /// What holds them, with the flag that sets how many.
    pub what: String,
    /// The flag that lowers it, if any.
    pub lower: Option<&'static str>,
}

/// Refuses to start a server whose parts may together hold more files than
/// the open-file limit allows (after raising it as far as it goes): better
/// a clear refusal now than `Too many open files` later, when idle
/// connections of one part leave another unable to accept.
pub fn check_open_files(needs: &[OpenFiles]) -> Result<()> {
    let limit = raise_open_files();
    let total = needs.iter().map(|n| n.count).sum::<u64>() + OWN_FILES;
    if total <= limit {
        return Ok(());
    }
    let parts: Vec<String> = needs
        .iter()
        .map(|n| format!("{} for {}", n.count, n.what))
        .collect();
    let lower: Vec<&str> = needs.iter().filter_map(|n| n.lower).collect();
    bail!(
        "the open-file limit is {limit}, and this server may hold {total} files at once: {}, and {OWN_FILES} for itself. Raise the limit to {total} (`ulimit -n {total}` in its shell, LimitNOFILE={total} in its service unit) or lower {}",
        parts.join(", "),
        lower.join(" or ")
    )
}

/// CPU time this process (all its threads) has used so far, to the
/// nanosecond; `None` where the system keeps no such clock.
pub fn cpu_time() -> Option<Duration> {
    cpu_clock(ClockId::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU time the calling thread has used so far. Unlike wall time, it does
/// not grow while the thread waits for a core, so the difference of two
/// readings is the work done between them.
pub fn thread_cpu_time() -> Option<Duration> {
    cpu_clock(ClockId::CLOCK_THREAD_CPUTIME_ID)
}

fn cpu_clock(clock: ClockId) -> Option<Duration> {
    nix::time::clock_gettime(clock).ok().map(Duration::from)
}
