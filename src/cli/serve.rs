//! `hbmon serve`'s flags, and how they become the server's settings, its
//! hooks and its operator API.
//!
//! The flags are grouped by what they govern (liveness rules, connection
//! limits, the silence guard, hooks, the operator API, what is kept), each
//! group a struct flattened into [`ServeArgs`]. Flattening keeps every
//! argument's id its field name: `settings.rs` finds serve's arguments by
//! id for the config file keys, the `HBMON_*` variables and
//! `--print-config`, so a field must not be renamed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail};
use clap::Args;

use super::tls::{Switch, TlsArgs};
use super::values::{OrOff, fraction_or_off, positive_number, rate_or_off, within};
use super::{FrontArgs, TokenArgs, read_token};
use hbmon::durations::{PERIOD, TIMEOUT, WINDOW};
use hbmon::endpoint::{self, Admin, Endpoint};
use hbmon::feed::event::EVENT_NAMES;
use hbmon::front::api;
use hbmon::front::hooks::Hooks;
use hbmon::liveness::{Detector, Rules, phi};
use hbmon::process::OpenFiles;
use hbmon::server::{Config, DEFAULT_MAX_MIB, GapRecording, GuardConfig, Limits};

/// The operator API `serve` was asked for: where, and what it admits.
pub struct AdminSetup {
    pub endpoint: Endpoint,
    pub settings: api::Settings,
}

#[derive(Args)]
pub struct ServeArgs {
    /// Read settings from this TOML file (`tick = "1s"`, one key per flag);
    /// a flag or its HBMON_<NAME> environment variable wins over the file.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Check the settings (config file, token file, journal path, TLS files) and exit
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
    #[command(flatten)]
    pub admin: AdminArgs,
    #[command(flatten)]
    pub tls: TlsArgs,
    #[command(flatten)]
    pub liveness: LivenessArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub kept: KeptArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
    #[command(flatten)]
    pub hooks: HookArgs,
}

/// The operator API: where it is served, and whom and how much it admits.
#[derive(Args)]
pub struct AdminArgs {
    /// Serve the operator API (HTTP: /metrics, /healthz, /v1/clients,
    /// /v1/events, /v1/kick, /v1/maintenance) on IP:PORT or unix:PATH (mode 0600);
    /// `off` turns it off.
    #[arg(long, default_value = endpoint::DEFAULT, value_name = "ADDR")]
    pub admin: Admin,
    /// File holding the token the operator API requires (Authorization: Bearer
    /// TOKEN) on all but /metrics and /healthz; without it, HBMON_ADMIN_TOKEN, if set.
    #[arg(long, value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,
    /// A name the operator API answers to besides localhost, loopback
    /// addresses and the --admin address (a request whose Host header
    /// names anything else is refused); repeat it, or separate names with commas.
    #[arg(long, value_name = "NAME", value_delimiter = ',', value_parser = host_name)]
    pub admin_host: Vec<String>,
    /// Connections the operator API serves at once (event and feed readers
    /// included); beyond them it answers /healthz and refuses the rest with 503.
    #[arg(long, default_value_t = api::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..=100_000), allow_hyphen_values = true)]
    pub admin_max_connections: u32,
    /// Close an operator API connection whose request head is not in this
    /// long after its first byte (after the accept, for the first request);
    /// a request body not in this long gets 408.
    #[arg(long, default_value = api::DEFAULT_HEAD_TIMEOUT, value_parser = within("--admin-head-timeout", TIMEOUT), allow_hyphen_values = true)]
    pub admin_head_timeout: Duration,
    /// Close a kept-alive operator API connection that sends no new request this long.
    #[arg(long, default_value = api::DEFAULT_IDLE_TIMEOUT, value_parser = within("--admin-idle-timeout", TIMEOUT), allow_hyphen_values = true)]
    pub admin_idle_timeout: Duration,
}

/// The liveness rules: how often clients are judged, and by which detector.
#[derive(Args)]
pub struct LivenessArgs {
    /// How often the liveness engine runs.
    #[arg(long, default_value = "1s", value_parser = within("--tick", PERIOD), allow_hyphen_values = true)]
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
    #[arg(long, default_value = "30s", value_parser = within("--leave-timeout", TIMEOUT.or_zero()), allow_hyphen_values = true)]
    pub leave_timeout: Duration,
    /// The failure detector: counter (missed ticks make strikes) or phi
    /// (phi accrual over each client's recent gaps).
    #[arg(long, value_enum, default_value_t = DetectorKind::Counter)]
    pub detector: DetectorKind,
    /// With --detector phi: the suspicion that sends a client to leave.
    #[arg(long, default_value_t = phi::DEFAULT_THRESHOLD, value_parser = positive_number, allow_hyphen_values = true)]
    pub phi_threshold: f64,
    /// With --detector phi: heartbeat gaps remembered per client.
    #[arg(long, default_value_t = phi::DEFAULT_WINDOW as u16, value_parser = clap::value_parser!(u16).range(3..))]
    pub phi_window: u16,
    /// With --detector phi: a silence every client is granted on top of its
    /// usual gap before phi rises (Akka's acceptable heartbeat pause; see
    /// `hbmon bench detectors` for the trade).
    #[arg(long, default_value = "0s", value_parser = within("--phi-pause", PERIOD.or_zero()), allow_hyphen_values = true)]
    pub phi_pause: Duration,
}

/// What one connection, and all of them together, may take.
#[derive(Args)]
pub struct LimitArgs {
    /// Most clients connected at once; more are refused with a close frame.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..), allow_hyphen_values = true)]
    pub max_clients: u32,
    /// Most connections from one source address; more are refused with a close frame (0: no limit).
    #[arg(long, default_value_t = 0)]
    pub max_per_ip: usize,
    /// Largest frame body accepted, in bytes.
    #[arg(long, default_value_t = 65_536, value_parser = clap::value_parser!(u32).range(1..=i32::MAX as i64), allow_hyphen_values = true)]
    pub max_frame: u32,
    /// Close a client that sends no valid heartbeat this long after connecting.
    #[arg(long, default_value = "10s", value_parser = within("--hello-timeout", TIMEOUT), allow_hyphen_values = true)]
    pub hello_timeout: Duration,
    /// Close a client that leaves part of a frame unfinished this long.
    #[arg(long, default_value = "10s", value_parser = within("--frame-timeout", TIMEOUT), allow_hyphen_values = true)]
    pub frame_timeout: Duration,
    /// Handle socket events in batches at most this far apart, to save
    /// wake-ups under steady load (adds at most this much latency; 0 turns it off).
    #[arg(long, default_value = "2ms", value_parser = within("--batch-window", WINDOW), allow_hyphen_values = true)]
    pub batch_window: Duration,
}

/// What the server keeps of the clients it has seen.
#[derive(Args)]
pub struct KeptArgs {
    /// Closed clients kept in history.
    #[arg(long, default_value_t = 1000)]
    pub history: usize,
    /// Append every decision to this file as JSON lines (read it with `hbmon history`).
    #[arg(long, value_name = "PATH")]
    pub journal: Option<PathBuf>,
    /// Append every client's heartbeat gaps to this file as JSON lines, for
    /// `hbmon bench detectors --trace PATH` to replay through every detector.
    #[arg(long, value_name = "PATH")]
    pub record_gaps: Option<PathBuf>,
    /// Stop recording gaps once the --record-gaps file would pass this many
    /// MiB (what is already in it counts).
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_MAX_MIB, value_parser = clap::value_parser!(u32).range(1..=1_048_576), allow_hyphen_values = true)]
    pub record_gaps_max: u32,
}

/// The silence guard and the close rate: what stops the server from
/// closing its whole fleet when its own network fails.
#[derive(Args)]
pub struct GuardArgs {
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
}

/// The event hooks: a shell command run for chosen events.
#[derive(Args)]
pub struct HookArgs {
    /// Run this shell command for each chosen event, with the event's JSON
    /// line on its stdin and HBMON_EVENT and HBMON_PEER in its environment.
    #[arg(long, value_name = "CMD")]
    pub on_event: Option<String>,
    /// The events that run the --on-event hook, comma-separated.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "status,closed,kick,fleet_silent,fleet_recovered",
        value_parser = event_name
    )]
    pub hook_events: Vec<String>,
    /// Hooks running at once at most.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub hook_concurrency: u16,
    /// A hook still running after this long is killed and reported.
    #[arg(long, default_value = "10s", value_parser = within("--hook-timeout", TIMEOUT), allow_hyphen_values = true)]
    pub hook_timeout: Duration,
}

/// Files a running hook holds: its stdin pipe, and the pipes its spawn
/// uses for a moment.
const FILES_PER_HOOK: u64 = 4;

/// `--hook-events`: one event's name. Checked where it is parsed, even
/// without `--on-event`, so a typo in a config file is found by `--check`
/// (with its file and line) before the hook is turned on, not after.
fn event_name(text: &str) -> Result<String, String> {
    if EVENT_NAMES.contains(&text) {
        return Ok(text.to_owned());
    }
    Err(format!(
        "'{text}' is not an event (events: {})",
        EVENT_NAMES.join(", ")
    ))
}

/// `--admin-host`: a host name, as a `Host` header gives it without the port.
fn host_name(text: &str) -> Result<String, String> {
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '.';
    if text.is_empty() || text.len() > 253 || !text.chars().all(valid) {
        return Err(format!(
            "'{text}' is not a host name (letters, digits, '-' and '.', at most 253; no port: every port is admitted)"
        ));
    }
    Ok(text.to_ascii_lowercase())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DetectorKind {
    Counter,
    Phi,
}

impl HookArgs {
    /// The hooks `--on-event` asks for, if any.
    pub fn setup(&self) -> Result<Option<Hooks>> {
        let Some(command) = &self.on_event else {
            return Ok(None);
        };
        Ok(Some(Hooks {
            command: command.clone(),
            events: self.hook_events.clone(),
            concurrency: usize::from(self.hook_concurrency),
            timeout: self.hook_timeout,
        }))
    }
}

impl AdminArgs {
    /// The operator API these flags ask for, if any. Refused on an address
    /// other machines can reach unless a token guards it.
    pub fn setup(&self) -> Result<Option<AdminSetup>> {
        let Some(endpoint) = self.admin.0.clone() else {
            return Ok(None);
        };
        let token = read_token(self.admin_token_file.as_deref(), "HBMON_ADMIN_TOKEN")?;
        if endpoint.is_remote() && token.is_none() {
            bail!(
                "--admin {endpoint} can be reached from other machines, and would let anyone kick clients: set --admin-token-file or HBMON_ADMIN_TOKEN, or serve it on 127.0.0.1 or a unix socket"
            );
        }
        let settings = api::Settings {
            token,
            hosts: self.admin_host.clone(),
            max_connections: self.admin_max_connections as usize,
            head_timeout: self.admin_head_timeout,
            idle_timeout: self.admin_idle_timeout,
            // The server's, when it has one: see `ServeArgs::setup`.
            tls: None,
        };
        Ok(Some(AdminSetup { endpoint, settings }))
    }
}

impl LivenessArgs {
    fn rules(&self) -> Rules {
        Rules {
            threshold: self.threshold,
            cursor: self.cursor,
            recover: self.recover,
            leave_timeout: self.leave_timeout,
        }
    }

    fn detector(&self) -> Detector {
        match self.detector {
            DetectorKind::Counter => Detector::Counter,
            DetectorKind::Phi => Detector::Phi {
                threshold: self.phi_threshold,
                window: usize::from(self.phi_window),
                pause: self.phi_pause,
            },
        }
    }
}

impl GuardArgs {
    fn config(&self) -> GuardConfig {
        GuardConfig {
            silence: self.silence_guard.0,
            min_clients: self.silence_guard_min,
            close_rate: self.close_rate.0,
        }
    }
}

impl ServeArgs {
    /// `serve --check`: everything `serve` would refuse to start with, found
    /// without listening. (The flags and the config file were checked as
    /// they were parsed.) Returns what the operator should read: the TLS
    /// files' certificates, and the warnings `serve` would give.
    pub fn check(&self) -> Result<Vec<String>> {
        let (config, mut notes) = both(self.config(), self.tls.check(SystemTime::now()))?;
        let admin = self.admin.setup()?;
        let warnings = self.warnings(admin.as_ref());
        notes.extend(warnings.into_iter().map(|w| format!("warning: {w}")));
        let files = [
            (config.journal.as_ref(), "the journal"),
            (
                config.record_gaps.as_ref().map(|r| &r.path),
                "--record-gaps",
            ),
        ];
        for (path, what) in files {
            let Some(path) = path else { continue };
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot write {what} {}", path.display()))?;
        }
        self.hooks.setup()?;
        hbmon::process::check_open_files(&self.open_files())?;
        Ok(notes)
    }

    /// What `serve` warns of: an operator API that other machines reach,
    /// guarded by a token that crosses the network in clear.
    pub fn warnings(&self, admin: Option<&AdminSetup>) -> Vec<String> {
        let Some(admin) = admin else {
            return Vec::new();
        };
        let token = admin.settings.token.is_some();
        if !(admin.endpoint.is_remote() && token && self.tls.admin_in_clear()) {
            return Vec::new();
        }
        vec![format!(
            "the operator API on {} takes its token in clear from other machines: anyone on the path can read it and kick clients (serve the API over TLS with --tls-cert and --tls-key, or on 127.0.0.1 or a unix socket)",
            admin.endpoint
        )]
    }

    /// What may be open at once, by what holds it: clients, the operator
    /// API, the journal and the hooks (a hook's child takes a few pipes).
    pub fn open_files(&self) -> Vec<OpenFiles> {
        let max_clients = self.limits.max_clients;
        let mut needs = vec![OpenFiles {
            count: u64::from(max_clients),
            what: format!("clients (--max-clients {max_clients})"),
            lower: Some("--max-clients"),
        }];
        if self.admin.admin.0.is_some() {
            let connections = self.admin.admin_max_connections;
            needs.push(OpenFiles {
                count: u64::from(connections) + api::OVERFLOW as u64,
                what: format!(
                    "operator API connections (--admin-max-connections {connections}, and {} to answer at the cap)",
                    api::OVERFLOW
                ),
                lower: Some("--admin-max-connections"),
            });
        }
        if self.kept.journal.is_some() {
            needs.push(OpenFiles {
                count: 1,
                what: "the journal".to_owned(),
                lower: None,
            });
        }
        if self.kept.record_gaps.is_some() {
            needs.push(OpenFiles {
                count: 1,
                what: "the --record-gaps file".to_owned(),
                lower: None,
            });
        }
        if self.hooks.on_event.is_some() {
            let concurrency = self.hooks.hook_concurrency;
            needs.push(OpenFiles {
                count: u64::from(concurrency) * FILES_PER_HOOK,
                what: format!("hooks (--hook-concurrency {concurrency}, {FILES_PER_HOOK} each)"),
                lower: Some("--hook-concurrency"),
            });
        }
        needs
    }

    /// The server's settings these flags ask for.
    pub fn config(&self) -> Result<Config> {
        let limits = &self.limits;
        Ok(Config {
            tick: self.liveness.tick,
            rules: self.liveness.rules(),
            limits: Limits {
                max_clients: limits.max_clients as usize,
                max_per_ip: limits.max_per_ip,
                max_frame: limits.max_frame as usize,
            },
            history: self.kept.history,
            batch_window: limits.batch_window,
            hello_timeout: limits.hello_timeout,
            frame_timeout: limits.frame_timeout,
            token: self.token.token()?,
            journal: self.kept.journal.clone(),
            guard: self.guard.config(),
            detector: self.liveness.detector(),
            record_gaps: self.kept.record_gaps.clone().map(|path| GapRecording {
                path,
                max_bytes: u64::from(self.kept.record_gaps_max) << 20,
            }),
            admin: None,
            tls: self.tls.setup()?,
            warnings: Vec::new(),
        })
    }

    /// The server's settings and its operator API: the API serves the
    /// server's TLS unless `--admin-tls off` (or it is on a unix socket,
    /// whose file's permissions guard it).
    pub fn setup(&self) -> Result<(Config, Option<AdminSetup>)> {
        let config = self.config()?;
        let mut admin = self.admin.setup()?;
        if let Some(admin) = &mut admin
            && self.tls.admin_tls == Switch::On
            && matches!(admin.endpoint, Endpoint::Tcp(_))
        {
            admin.settings.tls = config.tls.clone();
        }
        Ok((config, admin))
    }
}

/// The settings and what `--check` says of the TLS files. The server's TLS
/// loader and the inspection parse the files each their own way: when both
/// refuse them, the error says what the loader could not do, then what the
/// inspection found wrong.
fn both(config: Result<Config>, notes: Result<Vec<String>>) -> Result<(Config, Vec<String>)> {
    match (config, notes) {
        (Ok(config), Ok(notes)) => Ok((config, notes)),
        (Err(load), Err(inspected)) if load.to_string() != inspected.to_string() => {
            Err(inspected.context(load.to_string()))
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    }
}
