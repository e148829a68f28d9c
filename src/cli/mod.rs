//! The command line: every subcommand's flags, as clap structs, and how
//! they become the library's options. `main.rs` only dispatches.

pub mod docs;
mod serve;
mod tls;
mod top;
mod values;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use hbmon::durations::{PERIOD, RUN, TIMEOUT};
use hbmon::endpoint::Admin;
use hbmon::feed::event::Format;
use hbmon::fleet::client;
use hbmon::fleet::failover::MAX_SERVERS;
use hbmon::fleet::simulate::{Mix, Plan};
use hbmon::protocol::Token;
use hbmon::{bench, history};

pub use serve::{AdminSetup, ServeArgs};
use tls::ClientTlsArgs;
pub use top::TopArgs;
pub use values::OrOff;
use values::within;

/// A heartbeat monitor: clients hold a TCP connection and send heartbeats;
/// the server decides whether each is alive, leave (inactive) or close.
#[derive(Parser)]
#[command(name = "hbmon", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (with the dashboard, or headless with --no-tui).
    Serve(Box<ServeArgs>),
    /// Watch a running server, or several in one table, in the dashboard, through their
    /// operator APIs (quitting leaves the servers running).
    Top(TopArgs),
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
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), e.g. `hbmon man | man -l -`; with a
    /// subcommand, that subcommand's page (`hbmon man serve`); with --dir,
    /// write every page into DIR (hbmon.1, hbmon-serve.1, ...).
    Man {
        subcommand: Option<String>,
        /// Write hbmon.1 and a page per subcommand into this directory
        /// (e.g. ~/.local/share/man/man1) instead of printing one.
        #[arg(long, value_name = "DIR", conflicts_with = "subcommand")]
        dir: Option<PathBuf>,
    },
}

#[derive(Args)]
pub struct HistoryArgs {
    /// The journal file.
    pub path: PathBuf,
    /// Only this client (ip:port) or every client from this address (ip).
    #[arg(long)]
    pub peer: Option<history::Peer>,
    /// Only this pid.
    #[arg(long)]
    pub pid: Option<u32>,
    /// Only decisions since then: a duration back from now (10m) or a time (2026-11-24T15:00:00Z).
    #[arg(long, value_parser = history::parse_since)]
    pub since: Option<std::time::SystemTime>,
    /// Output: a table, or the journal's own JSON lines.
    #[arg(long, value_parser = values::format(), default_value = "text")]
    pub format: Format,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Scenarios to run (all when none is named): floor, hold, flood,
    /// detect, kick, render, jitter, viewers; only when named, servers;
    /// or `detectors` alone, the replay of heartbeat traces through every
    /// detector (a table).
    pub scenarios: Vec<String>,
    /// The same, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Clients held at 1 heartbeat/s in `hold`.
    #[arg(long, default_value_t = 10_000)]
    pub clients: usize,
    /// How long `hold` and `flood` measure once every client has joined.
    #[arg(long, default_value = "20s", value_parser = within("--duration", RUN), allow_hyphen_values = true)]
    pub duration: Duration,
    /// Clients writing as fast as they can in `flood`.
    #[arg(long, default_value_t = 200)]
    pub flood_clients: usize,
    /// Clients going silent in `detect`.
    #[arg(long, default_value_t = 100)]
    pub detect_clients: usize,
    /// Kicks timed in `kick`.
    #[arg(long, default_value_t = 200)]
    pub kicks: usize,
    /// Clients in `jitter`, half regular and half jittery.
    #[arg(long, default_value_t = 100)]
    pub jitter_clients: usize,
    /// Their mean heartbeat gap in `jitter` (also the tick); the run lasts 60 gaps a detector.
    #[arg(long, default_value = "1s", value_parser = within("--jitter-gap", PERIOD), allow_hyphen_values = true)]
    pub jitter_gap: Duration,
    /// Clients held at 1 heartbeat/s in `viewers` (capped by the open-file limit).
    #[arg(long, default_value_t = 19_900)]
    pub viewer_clients: usize,
    /// `hbmon top` viewers attached in `viewers`.
    #[arg(long, default_value_t = 3)]
    pub viewers: usize,
    /// Servers in `servers`, each in a process of its own (2 to 32).
    #[arg(long, default_value_t = 5, value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(2..=32))]
    pub servers: usize,
    /// Clients per server at 1 heartbeat/s in `servers`, each server's in a process of its own.
    #[arg(long, default_value_t = 15_000)]
    pub server_clients: usize,
    #[command(flatten)]
    pub hold_tls: HoldTlsArgs,
    #[command(flatten)]
    pub replay: ReplayArgs,
}

/// `hbmon bench hold --tls`: the fleets held in clear and over TLS.
#[derive(Args)]
pub struct HoldTlsArgs {
    /// `hold` measures each of --tls-clients in clear and over TLS (a
    /// throwaway certificate made for the run), instead of --clients.
    #[arg(long)]
    pub tls: bool,
    /// The fleets `hold --tls` compares.
    #[arg(long, value_delimiter = ',', default_value = "10000,19900")]
    pub tls_clients: Vec<usize>,
}

/// `hbmon bench detectors`: what to replay, and how to print it.
#[derive(Args)]
pub struct ReplayArgs {
    /// With `detectors`: replay the gaps `serve --record-gaps` wrote to
    /// this file instead of the built-in traces.
    #[arg(long, value_name = "PATH")]
    pub trace: Option<PathBuf>,
    /// With `detectors`: the liveness tick replayed (serve's --tick).
    #[arg(long, default_value = "1s", value_parser = within("--replay-tick", PERIOD), allow_hyphen_values = true)]
    pub replay_tick: Duration,
    /// With `detectors`: clients in each built-in trace.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub replay_clients: u32,
    /// With `detectors`: how long each built-in trace lasts.
    #[arg(long, default_value = "1h", value_parser = within("--replay-duration", RUN), allow_hyphen_values = true)]
    pub replay_duration: Duration,
    /// With `detectors`: a table, or the figures as JSON.
    #[arg(long, value_parser = values::format(), default_value = "text")]
    pub format: Format,
}

/// The most client-hours a built-in trace holds: its heartbeats are held
/// in memory, and this many already measure false alarms far rarer than
/// an operator would accept.
const MAX_CLIENT_HOURS: f64 = 1000.0;

impl BenchArgs {
    /// `detectors` named, alone: the replay rather than the scenarios.
    pub fn replay(&self) -> Result<Option<bench::detectors::Options>> {
        let named: Vec<&String> = self.scenarios.iter().chain(&self.only).collect();
        if !named.iter().any(|n| *n == "detectors") {
            return Ok(None);
        }
        if named.len() > 1 {
            bail!("`detectors` runs alone: hbmon bench detectors [--trace FILE]");
        }
        let replay = &self.replay;
        let hours = replay.replay_duration.as_secs_f64() / 3600.0;
        let client_hours = f64::from(replay.replay_clients) * hours;
        if client_hours > MAX_CLIENT_HOURS {
            bail!(
                "--replay-clients {} for --replay-duration {} is {client_hours:.0} client-hours a trace; at most {MAX_CLIENT_HOURS} (like 100 clients for 10h)",
                replay.replay_clients,
                humantime::format_duration(replay.replay_duration)
            );
        }
        Ok(Some(bench::detectors::Options {
            trace: replay.trace.clone(),
            tick: replay.replay_tick,
            clients: replay.replay_clients as usize,
            span: replay.replay_duration,
        }))
    }
}

/// Where the shared secret comes from.
#[derive(Args)]
pub struct TokenArgs {
    /// File holding the shared secret (surrounding white space ignored); without it, the
    /// HBMON_TOKEN environment variable, if set, is the secret.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
}

impl TokenArgs {
    pub fn token(&self) -> Result<Option<Token>> {
        read_token(self.token_file.as_deref(), "HBMON_TOKEN")
    }
}

/// A secret from `file`, else from the environment variable `var`, if set.
pub(crate) fn read_token(file: Option<&std::path::Path>, var: &str) -> Result<Option<Token>> {
    let (text, source) = match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the token file {}", path.display()))?;
            (text, format!("the token file {}", path.display()))
        }
        None => match std::env::var(var) {
            Ok(text) => (text, var.to_owned()),
            Err(_) => return Ok(None),
        },
    };
    match Token::new(&text) {
        Some(token) => Ok(Some(token)),
        None => bail!("{source} is empty"),
    }
}

/// How the server is shown: the dashboard, or the headless event stream.
#[derive(Args)]
pub struct FrontArgs {
    /// Run headless: print events on stdout and read commands from stdin.
    #[arg(long)]
    pub no_tui: bool,
    /// Headless output format.
    #[arg(long, value_parser = values::format(), default_value = "text")]
    pub format: Format,
    /// How often headless mode prints a stats line.
    #[arg(long, default_value = "5s", value_parser = within("--stats-every", PERIOD), allow_hyphen_values = true)]
    pub stats_every: Duration,
}

#[derive(Args)]
pub struct DemoArgs {
    /// Address to listen on (port 0 picks a free port; the dashboard shows it).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Serve the operator API on IP:PORT or unix:PATH (the header shows
    /// where), for `hbmon top` and curl; `off` turns it off.
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub admin: Admin,
    #[command(flatten)]
    pub front: FrontArgs,
}

#[derive(Args)]
pub struct SimulateArgs {
    /// Server address: HOST:PORT; repeat it to spread the fleet over several (round-robin),
    /// each client failing over to the others.
    #[arg(long, default_value = "127.0.0.1:14000", value_name = "ADDR")]
    pub server: Vec<String>,
    /// Number of clients.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Time between two clients joining (0: all at once, as fast as the server accepts).
    #[arg(long, default_value = "10s", value_parser = within("--every", PERIOD.or_zero()), allow_hyphen_values = true)]
    pub every: Duration,
    /// Time between heartbeats of each client.
    #[arg(long, default_value = "1s", value_parser = within("--interval", PERIOD), allow_hyphen_values = true)]
    pub interval: Duration,
    /// Behaviours and their weights: steady, flaky, silent, dying, bad, flood.
    #[arg(long, default_value = "steady=70,flaky=20,silent=5,dying=5")]
    pub mix: Mix,
    /// Stop after this long (default: run until Ctrl-C or every client has ended).
    #[arg(long, value_parser = within("--duration", RUN), allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Client i reports pid BASE + i.
    #[arg(long, default_value_t = 100_000)]
    pub pid_base: u32,
    /// How long a flaky client stays silent, then sends, in turn (long enough to reach leave).
    #[arg(long, default_value = "20s", value_parser = within("--flaky-gap", TIMEOUT), allow_hyphen_values = true)]
    pub flaky_gap: Duration,
    /// How long a dying client sends before it drops its connection.
    #[arg(long, default_value = "30s", value_parser = within("--dying-after", TIMEOUT), allow_hyphen_values = true)]
    pub dying_after: Duration,
    /// Summary format.
    #[arg(long, value_parser = values::format(), default_value = "text")]
    pub format: Format,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
}

#[derive(Args)]
pub struct ClientArgs {
    /// Server address; repeat it for servers to fail over to, in order of preference.
    #[arg(long, default_value = "127.0.0.1:14000", value_name = "ADDR")]
    pub server: Vec<String>,
    /// Time between heartbeats.
    #[arg(long, default_value = "1s", value_parser = within("--interval", PERIOD), allow_hyphen_values = true)]
    pub interval: Duration,
    /// Connect again when the server closes the connection or cannot be reached (with several
    /// --server, go round the list for ever instead of down it once).
    #[arg(long)]
    pub reconnect: bool,
    /// The pid to report (default: this process's).
    #[arg(long)]
    pub pid: Option<u32>,
    /// The address to report (default: the connection's local address).
    #[arg(long)]
    pub ip: Option<String>,
    #[command(flatten)]
    pub token: TokenArgs,
    #[command(flatten)]
    pub tls: ClientTlsArgs,
}

impl ClientArgs {
    /// The client these flags ask for, saying what it does on stdout.
    pub fn builder(&self) -> Result<client::Builder> {
        let (first, others) = servers(&self.server)?;
        let tls = self.tls.load(&first)?;
        let mut builder = client::Builder::new(first)
            .interval(self.interval)
            .reconnect(self.reconnect)
            .report(client::to_stdout())
            .moves(client::to_stderr());
        for server in others {
            builder = builder.server(server);
        }
        if let Some(pid) = self.pid {
            builder = builder.pid(pid);
        }
        if let Some(ip) = &self.ip {
            builder = builder.ip(ip.clone());
        }
        if let Some(token) = self.token.token()? {
            builder = builder.token(token);
        }
        if let Some(tls) = tls {
            builder = builder.tls(tls);
        }
        Ok(builder)
    }
}

/// The `--server` list: the first, and those to fail over to.
fn servers(given: &[String]) -> Result<(String, &[String])> {
    if given.len() > MAX_SERVERS {
        bail!(
            "{} --server addresses given; at most {MAX_SERVERS} are taken",
            given.len()
        );
    }
    match given {
        [first, others @ ..] => Ok((first.clone(), others)),
        [] => bail!("--server needs an address (HOST:PORT)"),
    }
}

impl SimulateArgs {
    /// The fleet's plan, with `--server` resolved (a host name is fine).
    pub async fn plan(&self) -> Result<Plan> {
        let (first, others) = servers(&self.server)?;
        let mut servers = Vec::with_capacity(self.server.len());
        for server in std::iter::once(&first).chain(others) {
            let address = tokio::net::lookup_host(server)
                .await
                .ok()
                .and_then(|mut addrs| addrs.next())
                .with_context(|| format!("cannot resolve --server {server} (write HOST:PORT)"))?;
            servers.push(address);
        }
        Ok(Plan {
            servers,
            clients: self.clients,
            every: self.every,
            interval: self.interval,
            mix: self.mix.clone(),
            pid_base: self.pid_base,
            flaky_gap: self.flaky_gap,
            dying_after: self.dying_after,
            token: self.token.token()?,
            tls: self.tls.load(&first)?,
        })
    }
}

impl HistoryArgs {
    pub fn filter(&self) -> history::Filter {
        history::Filter {
            peer: self.peer,
            pid: self.pid,
            since: self.since,
        }
    }
}

impl BenchArgs {
    pub fn options(&self) -> bench::Options {
        let named: Vec<String> = self.scenarios.iter().chain(&self.only).cloned().collect();
        let only = if named.is_empty() {
            bench::SCENARIOS.iter().map(|s| (*s).to_owned()).collect()
        } else {
            named
        };
        bench::Options {
            only,
            clients: self.clients,
            duration: self.duration,
            flood_clients: self.flood_clients,
            detect_clients: self.detect_clients,
            kicks: self.kicks,
            jitter_clients: self.jitter_clients,
            jitter_gap: self.jitter_gap,
            viewer_clients: self.viewer_clients,
            viewers: self.viewers,
            servers: self.servers,
            server_clients: self.server_clients,
            tls_clients: if self.hold_tls.tls {
                self.hold_tls.tls_clients.clone()
            } else {
                Vec::new()
            },
        }
    }
}
