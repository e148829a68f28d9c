//! The command line: every subcommand's flags, as clap structs, and how
//! they become the library's options. `main.rs` only dispatches.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};

use hbmon::endpoint::{self, Admin, Endpoint};
use hbmon::feed::event::EVENT_NAMES;
use hbmon::feed::event::Format;
use hbmon::fleet::client;
use hbmon::fleet::simulate::{Mix, Plan};
use hbmon::front::hooks::Hooks;
use hbmon::liveness::{Detector, Rules, phi};
use hbmon::protocol::Token;
use hbmon::server::{Config, GuardConfig};
use hbmon::{bench, history};

pub mod docs;
mod values;
use values::{OrOff, duration, fraction_or_off, positive_duration, positive_number, rate_or_off};

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
    /// Watch a running server in the dashboard, through its operator API (quitting leaves
    /// the server running).
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
    /// subcommand, that subcommand's page (`hbmon man serve`).
    Man { subcommand: Option<String> },
}

#[derive(Args)]
pub struct TopArgs {
    /// The server's operator API (its `serve --admin`): IP:PORT or unix:PATH.
    #[arg(long, default_value = endpoint::DEFAULT, value_name = "ADDR")]
    pub connect: Endpoint,
    /// File holding the admin token; without it, HBMON_ADMIN_TOKEN, if set.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Watch only: no kick keys, and no kick is ever sent.
    #[arg(long)]
    pub read_only: bool,
}

impl TopArgs {
    pub fn token(&self) -> Result<Option<Token>> {
        read_token(self.token_file.as_deref(), "HBMON_ADMIN_TOKEN")
    }
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
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Args)]
pub struct BenchArgs {
    /// Scenarios to run (all when none is named): hold, flood, detect,
    /// kick, render, jitter, viewers.
    pub scenarios: Vec<String>,
    /// The same, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Clients held at 1 heartbeat/s in `hold`.
    #[arg(long, default_value_t = 10_000)]
    pub clients: usize,
    /// How long `hold` and `flood` measure once every client has joined.
    #[arg(long, default_value = "20s", value_parser = positive_duration, allow_hyphen_values = true)]
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
    #[arg(long, default_value = "1s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub jitter_gap: Duration,
    /// Clients held at 1 heartbeat/s in `viewers` (capped by the open-file limit).
    #[arg(long, default_value_t = 19_900)]
    pub viewer_clients: usize,
    /// `hbmon top` viewers attached in `viewers`.
    #[arg(long, default_value_t = 3)]
    pub viewers: usize,
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
fn read_token(file: Option<&std::path::Path>, var: &str) -> Result<Option<Token>> {
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

/// The operator API `serve` was asked for: where, and the token it needs.
pub struct AdminSetup {
    pub endpoint: Endpoint,
    pub token: Option<Token>,
}

/// How the server is shown: the dashboard, or the headless event stream.
#[derive(Args)]
pub struct FrontArgs {
    /// Run headless: print events on stdout and read commands from stdin.
    #[arg(long)]
    pub no_tui: bool,
    /// Headless output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// How often headless mode prints a stats line.
    #[arg(long, default_value = "5s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub stats_every: Duration,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Read settings from this TOML file (`tick = "1s"`, one key per flag);
    /// a flag or its HBMON_<NAME> environment variable wins over the file.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Check the settings (config file, token file, journal path) and exit
    /// 0, or 1 with what is wrong, without listening.
    #[arg(long)]
    pub check: bool,
    /// Print the effective settings as a config file and exit.
    #[arg(long)]
    pub print_config: bool,
    /// Address to listen on (use 0.0.0.0:PORT to accept remote clients; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:14000")]
    pub listen: SocketAddr,
    #[command(flatten)]
    pub front: FrontArgs,
    #[command(flatten)]
    pub token: TokenArgs,
    /// Serve the operator API (HTTP: /metrics, /healthz, /v1/clients,
    /// /v1/events, /v1/kick) on IP:PORT or unix:PATH (mode 0600); `off` turns it off.
    #[arg(long, default_value = endpoint::DEFAULT, value_name = "ADDR")]
    pub admin: Admin,
    /// File holding the token the operator API requires (Authorization: Bearer
    /// TOKEN) on all but /metrics and /healthz; without it, HBMON_ADMIN_TOKEN, if set.
    #[arg(long, value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,
    /// How often the liveness engine runs.
    #[arg(long, default_value = "1s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub tick: Duration,
    /// Missed ticks that make a strike.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..), allow_hyphen_values = true)]
    pub threshold: u32,
    /// Strikes that turn an alive client into leave.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..), allow_hyphen_values = true)]
    pub cursor: u32,
    /// Consecutive ticks with heartbeats that bring a leave client back to alive.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..), allow_hyphen_values = true)]
    pub recover: u32,
    /// How long a client may stay in leave before it is closed.
    #[arg(long, default_value = "30s", value_parser = duration, allow_hyphen_values = true)]
    pub leave_timeout: Duration,
    /// Most clients connected at once; more are refused with a close frame.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..), allow_hyphen_values = true)]
    pub max_clients: u32,
    /// Most connections from one source address; more are refused with a close frame (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub max_per_ip: usize,
    /// Largest frame body accepted, in bytes.
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64), allow_hyphen_values = true)]
    pub max_frame: u32,
    /// Closed clients kept in history.
    #[arg(long, default_value_t = 1000)]
    pub history: usize,
    /// Append every decision to this file as JSON lines (read it with `hbmon history`).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Close a client that sends no valid heartbeat this long after connecting.
    #[arg(long, default_value = "10s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub hello_timeout: Duration,
    /// Close a client that leaves part of a frame unfinished this long.
    #[arg(long, default_value = "10s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub frame_timeout: Duration,
    /// Handle socket events in batches at most this far apart, to save
    /// wake-ups under steady load (adds at most this much latency; 0 turns it off).
    #[arg(long, default_value = "2ms", value_parser = duration, allow_hyphen_values = true)]
    pub batch_window: Duration,
    /// Hold automatic closes while at least this fraction of the clients are
    /// silent together (the server's own network likely failed); `off` to
    /// close every client on its own timeline.
    #[arg(long, default_value = "0.5", value_parser = fraction_or_off, allow_hyphen_values = true)]
    pub silence_guard: OrOff,
    /// The silence guard applies from this many clients on.
    #[arg(long, default_value_t = 10)]
    pub silence_guard_min: usize,
    /// Automatic closes per second at most (`100/s`, `0.5/s`); `off` for no cap.
    #[arg(long, default_value = "100/s", value_parser = rate_or_off, allow_hyphen_values = true)]
    pub close_rate: OrOff,
    /// The failure detector: counter (missed ticks make strikes) or phi
    /// (phi accrual over each client's recent gaps).
    #[arg(long, value_enum, default_value_t = DetectorKind::Counter)]
    pub detector: DetectorKind,
    /// With --detector phi: the suspicion that sends a client to leave.
    #[arg(long, default_value_t = phi::DEFAULT_THRESHOLD, value_parser = positive_number, allow_hyphen_values = true)]
    pub phi_threshold: f64,
    /// Run this shell command for each chosen event, with the event's JSON
    /// line on its stdin and HBMON_EVENT and HBMON_PEER in its environment.
    #[arg(long, value_name = "CMD")]
    pub on_event: Option<String>,
    /// The events that run the --on-event hook, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "status,closed,kick,fleet_silent,fleet_recovered"
    )]
    pub hook_events: Vec<String>,
    /// Hooks running at once at most.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub hook_concurrency: u16,
    /// A hook still running after this long is killed and reported.
    #[arg(long, default_value = "10s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub hook_timeout: Duration,
    /// With --detector phi: heartbeat gaps remembered per client.
    #[arg(long, default_value_t = phi::DEFAULT_WINDOW as u16, value_parser = clap::value_parser!(u16).range(3..))]
    pub phi_window: u16,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DetectorKind {
    Counter,
    Phi,
}

impl ServeArgs {
    /// The hooks `--on-event` asks for, if any.
    pub fn hooks(&self) -> Result<Option<Hooks>> {
        let Some(command) = &self.on_event else {
            return Ok(None);
        };
        for name in &self.hook_events {
            if !EVENT_NAMES.contains(&name.as_str()) {
                bail!(
                    "--hook-events: '{name}' is not an event (events: {})",
                    EVENT_NAMES.join(", ")
                );
            }
        }
        Ok(Some(Hooks {
            command: command.clone(),
            events: self.hook_events.clone(),
            concurrency: usize::from(self.hook_concurrency),
            timeout: self.hook_timeout,
        }))
    }

    /// The operator API these flags ask for, if any. Refused on an address
    /// other machines can reach unless a token guards it.
    pub fn admin(&self) -> Result<Option<AdminSetup>> {
        let Some(endpoint) = self.admin.0.clone() else {
            return Ok(None);
        };
        let token = read_token(self.admin_token_file.as_deref(), "HBMON_ADMIN_TOKEN")?;
        if endpoint.is_remote() && token.is_none() {
            bail!(
                "--admin {endpoint} can be reached from other machines, and would let anyone kick clients: set --admin-token-file or HBMON_ADMIN_TOKEN, or serve it on 127.0.0.1 or a unix socket"
            );
        }
        Ok(Some(AdminSetup { endpoint, token }))
    }

    fn detector(&self) -> Detector {
        match self.detector {
            DetectorKind::Counter => Detector::Counter,
            DetectorKind::Phi => Detector::Phi {
                threshold: self.phi_threshold,
                window: usize::from(self.phi_window),
            },
        }
    }
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
    /// Server address: HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:14000")]
    pub server: String,
    /// Number of clients.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,
    /// Time between two clients joining (0: all at once, as fast as the server accepts).
    #[arg(long, default_value = "10s", value_parser = duration, allow_hyphen_values = true)]
    pub every: Duration,
    /// Time between heartbeats of each client.
    #[arg(long, default_value = "1s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub interval: Duration,
    /// Behaviours and their weights: steady, flaky, silent, dying, bad, flood.
    #[arg(long, default_value = "steady=70,flaky=20,silent=5,dying=5")]
    pub mix: Mix,
    /// Stop after this long (default: run until Ctrl-C or every client has ended).
    #[arg(long, value_parser = positive_duration, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    /// Client i reports pid BASE + i.
    #[arg(long, default_value_t = 100_000)]
    pub pid_base: u32,
    /// How long a flaky client stays silent, then sends, in turn (long enough to reach leave).
    #[arg(long, default_value = "20s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub flaky_gap: Duration,
    /// How long a dying client sends before it drops its connection.
    #[arg(long, default_value = "30s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub dying_after: Duration,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub token: TokenArgs,
}

#[derive(Args)]
pub struct ClientArgs {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1:14000")]
    pub server: String,
    /// Time between heartbeats.
    #[arg(long, default_value = "1s", value_parser = positive_duration, allow_hyphen_values = true)]
    pub interval: Duration,
    /// Connect again when the server closes the connection or cannot be reached.
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
}

impl ServeArgs {
    /// `serve --check`: everything `serve` would refuse to start with, found
    /// without listening. (The flags and the config file were checked as
    /// they were parsed.)
    pub fn check(&self) -> Result<()> {
        let config = self.config()?;
        self.admin()?;
        if let Some(path) = &config.journal {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot write the journal {}", path.display()))?;
        }
        self.hooks()?;
        Ok(())
    }

    /// The server's settings these flags ask for.
    pub fn config(&self) -> Result<Config> {
        Ok(Config {
            tick: self.tick,
            rules: Rules {
                threshold: self.threshold,
                cursor: self.cursor,
                recover: self.recover,
                leave_timeout: self.leave_timeout,
            },
            max_clients: self.max_clients as usize,
            max_per_ip: self.max_per_ip,
            max_frame: self.max_frame as usize,
            history: self.history,
            batch_window: self.batch_window,
            hello_timeout: self.hello_timeout,
            frame_timeout: self.frame_timeout,
            token: self.token.token()?,
            journal: self.journal.clone(),
            guard: GuardConfig {
                silence: self.silence_guard.0,
                min_clients: self.silence_guard_min,
                close_rate: self.close_rate.0,
            },
            detector: self.detector(),
            admin: None,
        })
    }
}

impl ClientArgs {
    /// The client these flags ask for, saying what it does on stdout.
    pub fn builder(&self) -> Result<client::Builder> {
        let mut builder = client::Builder::new(self.server.clone())
            .interval(self.interval)
            .reconnect(self.reconnect)
            .report(client::to_stdout());
        if let Some(pid) = self.pid {
            builder = builder.pid(pid);
        }
        if let Some(ip) = &self.ip {
            builder = builder.ip(ip.clone());
        }
        if let Some(token) = self.token.token()? {
            builder = builder.token(token);
        }
        Ok(builder)
    }
}

impl SimulateArgs {
    /// The fleet's plan, with `--server` resolved (a host name is fine).
    pub async fn plan(&self) -> Result<Plan> {
        let server = tokio::net::lookup_host(&self.server)
            .await
            .ok()
            .and_then(|mut addrs| addrs.next())
            .with_context(|| {
                format!("cannot resolve --server {} (write HOST:PORT)", self.server)
            })?;
        Ok(Plan {
            server,
            clients: self.clients,
            every: self.every,
            interval: self.interval,
            mix: self.mix.clone(),
            pid_base: self.pid_base,
            flaky_gap: self.flaky_gap,
            dying_after: self.dying_after,
            token: self.token.token()?,
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
        }
    }
}
