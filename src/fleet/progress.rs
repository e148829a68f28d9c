//! What `hbmon simulate` shows while its fleet runs: a progress line on a
//! terminal's stderr, and the summary on stdout when it ends (the totals,
//! then how each behaviour's clients ended). A front end over the fleet's
//! [`Tally`], as the dashboard is over the server's feed.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio_util::sync::CancellationToken;

use crate::feed::event::Format;
use crate::fleet::simulate::{self, Plan, Tally};
use crate::{printable, process};

/// Runs the fleet until `duration` (if any), a signal, or every client has
/// ended; then prints the summary in `format`. Fails, saying why, when no
/// client could connect.
pub async fn run(plan: Plan, duration: Option<Duration>, format: Format) -> Result<()> {
    let servers: Vec<String> = plan.servers.iter().map(ToString::to_string).collect();
    let open_files = process::raise_open_files();
    if plan.clients as u64 >= open_files {
        eprintln!(
            "hbmon: warning: {} clients need as many open files, but this process may open only {open_files}; the rest will fail to connect",
            plan.clients
        );
    }
    let stop = CancellationToken::new();
    process::cancel_on_terminate(stop.clone())?;
    if let Some(duration) = duration {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.cancel();
        });
    }
    let tally = Arc::new(Tally::default());
    let fleet = tokio::spawn(simulate::run(plan, Arc::clone(&tally), stop.clone()));
    let progress = std::io::stderr().is_terminal();
    if progress {
        let tally = Arc::clone(&tally);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(250));
            loop {
                every.tick().await;
                eprint!("\r\x1b[2K{}", tally.counts());
            }
        });
    }
    fleet.await.context("the fleet crashed")?;
    let summary = tally.summary();
    if progress {
        eprintln!();
    }
    let text = match format {
        Format::Json => printable::json(&serde_json::to_string(&summary)?).into_owned(),
        Format::Text => summary.to_string(),
    };
    writeln!(std::io::stdout(), "{text}").context("writing the summary")?;
    if let Some(error) = tally.unreachable() {
        bail!(
            "cannot connect to {}: {error}; no client connected",
            servers.join(" nor ")
        );
    }
    Ok(())
}
