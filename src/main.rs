//! The `hbmon` command line: parses arguments and wires the parts together.

#![deny(clippy::unwrap_used)]

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use tokio::net::TcpListener;

use hbmon::headless::{self, Format};
use hbmon::liveness::Rules;
use hbmon::server::{Config, Server};
use hbmon::{client, signals, tui};

/// A heartbeat monitor: clients hold a TCP connection and send heartbeats;
/// the server decides whether each is alive, leave (inactive) or close.
#[derive(Parser)]
#[command(name = "hbmon", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (with the dashboard, or headless with --no-tui).
    Serve(ServeArgs),
    /// Connect to a server and send heartbeats.
    Client(ClientArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (use 0.0.0.0:PORT to accept remote clients; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:14000")]
    listen: SocketAddr,
    /// Run headless: print events on stdout and read commands from stdin.
    #[arg(long)]
    no_tui: bool,
    /// Headless output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// How often the liveness engine runs.
    #[arg(long, default_value = "1s", value_parser = positive_duration)]
    tick: Duration,
    /// Missed ticks that make a strike.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    threshold: u32,
    /// Strikes that turn an alive client into leave.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    cursor: u32,
    /// Consecutive ticks with heartbeats that bring a leave client back to alive.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    recover: u32,
    /// How long a client may stay in leave before it is closed.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    leave_timeout: Duration,
    /// Most clients connected at once; more are refused with a close frame.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    max_clients: u32,
    /// Largest frame body accepted, in bytes.
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    max_frame: u32,
    /// How often headless mode prints a stats line.
    #[arg(long, default_value = "5s", value_parser = positive_duration)]
    stats_every: Duration,
    /// Closed clients kept in history.
    #[arg(long, default_value_t = 1000)]
    history: usize,
}

#[derive(Args)]
struct ClientArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:14000")]
    server: String,
    /// Time between heartbeats.
    #[arg(long, default_value = "1s", value_parser = positive_duration)]
    interval: Duration,
    /// Connect again when the server closes the connection or cannot be reached.
    #[arg(long)]
    reconnect: bool,
    /// The pid to report (default: this process's).
    #[arg(long)]
    pid: Option<u32>,
    /// The address to report (default: the connection's local address).
    #[arg(long)]
    ip: Option<String>,
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be greater than zero".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (write durations like 1s, 250ms, 2m)")),
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Client(args) => {
            client::run(client::Options {
                server: args.server,
                interval: args.interval,
                reconnect: args.reconnect,
                pid: args.pid.unwrap_or_else(std::process::id),
                ip: args.ip,
            })
            .await
        }
    }
}

async fn serve(args: ServeArgs) -> Result<()> {
    let config = Config {
        tick: args.tick,
        rules: Rules {
            threshold: args.threshold,
            cursor: args.cursor,
            recover: args.recover,
            leave_timeout: args.leave_timeout,
        },
        max_clients: args.max_clients as usize,
        max_frame: args.max_frame as usize,
        history: args.history,
    };
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let server = Server::start(listener, config).context("starting the server")?;
    signals::cancel_on_terminate(server.stop_token())?;

    let dashboard = !args.no_tui && std::io::stdout().is_terminal();
    if !args.no_tui && !dashboard {
        eprintln!("hbmon: stdout is not a terminal; running headless (as with --no-tui)");
    }
    if dashboard {
        let links = tui::Links {
            snapshots: server.snapshots(),
            control: server.control(),
            stop: server.stop_token(),
        };
        let result = tokio::task::spawn_blocking(move || tui::run(links)).await;
        // However the dashboard ended, the server goes down with it.
        server.stop();
        server.stopped().await;
        return result.context("the dashboard crashed")?;
    }
    let options = headless::Options {
        format: args.format,
        stats_every: args.stats_every,
    };
    headless::run(&server, options).await?;
    server.stopped().await;
    Ok(())
}
