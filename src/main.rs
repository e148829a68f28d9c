//! The `hbmon` command line: parses arguments and wires the parts together.

#![deny(clippy::unwrap_used)]

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use hbmon::headless::{self, Format};
use hbmon::liveness::Rules;
use hbmon::protocol::Token;
use hbmon::server::{Config, Server};
use hbmon::simulate::{self, Mix, Plan, Tally};
use hbmon::{client, limits, signals, tui};
use tokio_util::sync::CancellationToken;

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
    /// Run the server with a simulated fleet that shows every behaviour within a minute.
    Demo(DemoArgs),
    /// Connect to a server and send heartbeats.
    Client(ClientArgs),
    /// Connect a fleet of simulated clients to a server.
    Simulate(SimulateArgs),
    /// Measure hbmon on this machine and print the figures as JSON.
    Bench(BenchArgs),
    /// Read a journal written with `serve --journal`.
    History(HistoryArgs),
}

#[derive(Args)]
struct HistoryArgs {
    /// The journal file.
    path: PathBuf,
    /// Only this client (ip:port) or every client from this address (ip).
    #[arg(long)]
    peer: Option<String>,
    /// Only this pid.
    #[arg(long)]
    pid: Option<u32>,
    /// Only decisions since then: a duration back from now (10m) or a time (2026-11-24T15:00:00Z).
    #[arg(long, value_parser = hbmon::history::parse_since)]
    since: Option<std::time::SystemTime>,
    /// Output: a table, or the journal's own JSON lines.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Args)]
struct BenchArgs {
    /// Scenarios to run, comma-separated: hold, flood, detect, kick, render.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "hold,flood,detect,kick,render"
    )]
    only: Vec<String>,
    /// Clients held at 1 heartbeat/s in `hold`.
    #[arg(long, default_value_t = 10_000)]
    clients: usize,
    /// How long `hold` and `flood` measure once every client has joined.
    #[arg(long, default_value = "20s", value_parser = positive_duration)]
    duration: Duration,
    /// Clients writing as fast as they can in `flood`.
    #[arg(long, default_value_t = 200)]
    flood_clients: usize,
    /// Clients going silent in `detect`.
    #[arg(long, default_value_t = 100)]
    detect_clients: usize,
    /// Kicks timed in `kick`.
    #[arg(long, default_value_t = 200)]
    kicks: usize,
}

/// Where the shared secret comes from.
#[derive(Args)]
struct TokenArgs {
    /// File holding the shared secret (surrounding white space ignored); without it, the
    /// HBMON_TOKEN environment variable, if set, is the secret.
    #[arg(long, value_name = "PATH")]
    token_file: Option<PathBuf>,
}

impl TokenArgs {
    fn token(&self) -> Result<Option<Token>> {
        let (text, source) = match &self.token_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the token file {}", path.display()))?;
                (text, format!("the token file {}", path.display()))
            }
            None => match std::env::var("HBMON_TOKEN") {
                Ok(text) => (text, "HBMON_TOKEN".to_owned()),
                Err(_) => return Ok(None),
            },
        };
        match Token::new(&text) {
            Some(token) => Ok(Some(token)),
            None => bail!("{source} is empty"),
        }
    }
}

/// How the server is shown: the dashboard, or the headless event stream.
#[derive(Args)]
struct FrontArgs {
    /// Run headless: print events on stdout and read commands from stdin.
    #[arg(long)]
    no_tui: bool,
    /// Headless output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// How often headless mode prints a stats line.
    #[arg(long, default_value = "5s", value_parser = positive_duration)]
    stats_every: Duration,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on (use 0.0.0.0:PORT to accept remote clients; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:14000")]
    listen: SocketAddr,
    #[command(flatten)]
    front: FrontArgs,
    #[command(flatten)]
    token: TokenArgs,
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
    /// Most connections from one source address; more are refused with a close frame (0: no limit).
    #[arg(long, default_value_t = 0)]
    max_per_ip: usize,
    /// Largest frame body accepted, in bytes.
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64))]
    max_frame: u32,
    /// Closed clients kept in history.
    #[arg(long, default_value_t = 1000)]
    history: usize,
    /// Append every decision to this file as JSON lines (read it with `hbmon history`).
    #[arg(long, value_name = "PATH")]
    journal: Option<PathBuf>,
    /// Close a client that sends no valid heartbeat this long after connecting.
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    hello_timeout: Duration,
    /// Close a client that leaves part of a frame unfinished this long.
    #[arg(long, default_value = "10s", value_parser = positive_duration)]
    frame_timeout: Duration,
    /// Handle socket events in batches at most this far apart, to save
    /// wake-ups under steady load (adds at most this much latency; 0 turns it off).
    #[arg(long, default_value = "2ms", value_parser = humantime::parse_duration)]
    batch_window: Duration,
}

#[derive(Args)]
struct DemoArgs {
    /// Address to listen on (port 0 picks a free port; the dashboard shows it).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    #[command(flatten)]
    front: FrontArgs,
}

#[derive(Args)]
struct SimulateArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:14000")]
    server: SocketAddr,
    /// Number of clients.
    #[arg(long, default_value_t = 100)]
    clients: usize,
    /// Time between two clients joining (0: all at once, as fast as the server accepts).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    every: Duration,
    /// Time between heartbeats of each client.
    #[arg(long, default_value = "1s", value_parser = positive_duration)]
    interval: Duration,
    /// Behaviours and their weights: steady, flaky, silent, dying, bad.
    #[arg(long, default_value = "steady=70,flaky=20,silent=5,dying=5")]
    mix: Mix,
    /// Stop after this long (default: run until Ctrl-C or every client has ended).
    #[arg(long, value_parser = positive_duration)]
    duration: Option<Duration>,
    /// Client i reports pid BASE + i.
    #[arg(long, default_value_t = 100_000)]
    pid_base: u32,
    /// How long a flaky client stays silent, then sends, in turn (long enough to reach leave).
    #[arg(long, default_value = "20s", value_parser = positive_duration)]
    flaky_gap: Duration,
    /// How long a dying client sends before it drops its connection.
    #[arg(long, default_value = "30s", value_parser = positive_duration)]
    dying_after: Duration,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    #[command(flatten)]
    token: TokenArgs,
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
    #[command(flatten)]
    token: TokenArgs,
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err("must be greater than zero".to_owned()),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{e} (write durations like 1s, 250ms, 2m)")),
    }
}

/// One thread for the server (and the fleets): measured cheaper per
/// heartbeat than two, which spend their time waking each other (see the
/// README's figures). Front ends get threads of their own.
#[tokio::main(flavor = "current_thread")]
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
        Command::Demo(args) => demo(args).await,
        Command::Client(args) => {
            client::run(client::Options {
                server: args.server,
                interval: args.interval,
                reconnect: args.reconnect,
                pid: args.pid.unwrap_or_else(std::process::id),
                ip: args.ip,
                token: args.token.token()?,
            })
            .await
        }
        Command::Simulate(args) => simulate(args).await,
        Command::History(args) => {
            let filter = hbmon::history::Filter {
                peer: args.peer,
                pid: args.pid,
                since: args.since,
            };
            hbmon::history::run(&args.path, &filter, args.format)
        }
        Command::Bench(args) => {
            let options = hbmon::bench::Options {
                only: args.only,
                clients: args.clients,
                duration: args.duration,
                flood_clients: args.flood_clients,
                detect_clients: args.detect_clients,
                kicks: args.kicks,
            };
            let report = hbmon::bench::run(&options).await?;
            writeln!(
                std::io::stdout(),
                "{}",
                serde_json::to_string_pretty(&report)?
            )
            .context("writing the report")?;
            Ok(())
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
        max_per_ip: args.max_per_ip,
        max_frame: args.max_frame as usize,
        history: args.history,
        batch_window: args.batch_window,
        hello_timeout: args.hello_timeout,
        frame_timeout: args.frame_timeout,
        token: args.token.token()?,
        journal: args.journal,
    };
    let server = start(args.listen, config).await?;
    attach(server, &args.front).await
}

async fn demo(args: DemoArgs) -> Result<()> {
    let config = hbmon::demo::config();
    let server = start(args.listen, config.clone()).await?;
    hbmon::demo::spawn_fleets(server.local_addr(), &config, server.stop_token());
    attach(server, &args.front).await
}

async fn start(listen: SocketAddr, config: Config) -> Result<Server> {
    limits::raise_open_files();
    let listener =
        hbmon::server::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let server = Server::start(listener, config).context("starting the server")?;
    signals::cancel_on_terminate(server.stop_token())?;
    Ok(server)
}

/// Runs the front end the arguments ask for until the server stops.
async fn attach(server: Server, front: &FrontArgs) -> Result<()> {
    let dashboard = !front.no_tui && std::io::stdout().is_terminal();
    if !front.no_tui && !dashboard {
        eprintln!("hbmon: stdout is not a terminal; running headless (as with --no-tui)");
    }
    let links = server.front_end();
    let options = headless::Options {
        format: front.format,
        stats_every: front.stats_every,
    };
    // Front ends block on their output: each gets a thread of its own.
    let result = tokio::task::spawn_blocking(move || {
        if dashboard {
            tui::run(links)
        } else {
            headless::run(links, options)
        }
    })
    .await;
    // However the front end ended, the server goes down with it.
    server.stop();
    server.stopped().await;
    result.context("the front end crashed")?
}

async fn simulate(args: SimulateArgs) -> Result<()> {
    let open_files = limits::raise_open_files();
    if args.clients as u64 >= open_files {
        eprintln!(
            "hbmon: warning: {} clients need as many open files, but this process may open only {open_files}; the rest will fail to connect",
            args.clients
        );
    }
    let plan = Plan {
        server: args.server,
        clients: args.clients,
        every: args.every,
        interval: args.interval,
        mix: args.mix,
        pid_base: args.pid_base,
        flaky_gap: args.flaky_gap,
        dying_after: args.dying_after,
        token: args.token.token()?,
    };
    let stop = CancellationToken::new();
    signals::cancel_on_terminate(stop.clone())?;
    if let Some(duration) = args.duration {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            stop.cancel();
        });
    }
    let tally = Arc::new(Tally::default());
    let fleet = tokio::spawn(simulate::run(plan, Arc::clone(&tally), stop.clone()));
    if std::io::stderr().is_terminal() {
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
    let counts = tally.counts();
    if std::io::stderr().is_terminal() {
        eprintln!();
    }
    let summary = match args.format {
        Format::Json => serde_json::to_string(&counts)?,
        Format::Text => counts.to_string(),
    };
    writeln!(std::io::stdout(), "{summary}").context("writing the summary")?;
    Ok(())
}
