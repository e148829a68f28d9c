//! The fleet a scenario runs against: `hbmon simulate` clients in a child
//! process, so this process's CPU time and memory are the server's alone
//! (or the floor's), and how many this machine lets one server hold.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result};

use super::ephemeral_ports;
use crate::process;

/// `hbmon simulate` as a child process, killed when dropped.
pub(super) struct Fleet {
    _child: tokio::process::Child,
}

impl Fleet {
    pub(super) fn spawn(
        server: SocketAddr,
        clients: usize,
        interval: &str,
        mix: &str,
        run_for: Duration,
        extra: &[String],
    ) -> Result<Fleet> {
        Fleet::over(&[server], clients, interval, mix, run_for, extra)
    }

    /// The fleet spread over `servers`, failing over between them, with
    /// `extra` arguments for `simulate` (its TLS, say).
    pub(super) fn over(
        servers: &[SocketAddr],
        clients: usize,
        interval: &str,
        mix: &str,
        run_for: Duration,
        extra: &[String],
    ) -> Result<Fleet> {
        let exe = std::env::current_exe().context("finding the hbmon executable")?;
        let mut command = tokio::process::Command::new(exe);
        command.arg("simulate");
        for server in servers {
            command.args(["--server", &server.to_string()]);
        }
        let child = command
            .args(["--every", "0", "--format", "json"])
            .args([
                "--clients",
                &clients.to_string(),
                "--interval",
                interval,
                "--mix",
                mix,
            ])
            .args(["--duration", &format!("{}s", run_for.as_secs().max(1))])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("starting the hbmon simulate fleet")?;
        Ok(Fleet { _child: child })
    }
}

/// The clients this machine lets one server hold of `wanted`, and what
/// capped them, if anything did.
pub(super) fn capped(wanted: usize) -> (usize, Option<String>) {
    let (mut clients, mut capped_by) = (wanted, None);
    // Room for the server's own files; the child has its own limit.
    let files = process::raise_open_files().saturating_sub(100) as usize;
    let ports = ephemeral_ports() as usize;
    if clients > files {
        capped_by = Some(format!(
            "open-file limit ({} per process)",
            process::raise_open_files()
        ));
        clients = files;
    }
    if clients > ports {
        capped_by = Some(format!("ephemeral port range ({ports} ports)"));
        clients = ports;
    }
    (clients, capped_by)
}
