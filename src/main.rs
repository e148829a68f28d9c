//! The `hbmon` command line: parses arguments (see `cli.rs`) and wires the
//! parts together. Nothing here decides anything.

#![deny(clippy::unwrap_used)]

mod cli;
mod settings;

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};

use cli::{AdminSetup, Cli, Command, FrontArgs, ServeArgs};
use hbmon::feed::event::Format;
use hbmon::fleet::demo;
use hbmon::fleet::progress;
use hbmon::front::hooks::{self, HookStats, Hooks};
use hbmon::front::{api, headless, tui};
use hbmon::server::{self, Config, Server};
use hbmon::{bench, history, printable, process};
use tokio::task::JoinError;
use tokio_util::sync::CancellationToken;

/// Errors are printed as one line (with their causes) whatever
/// `RUST_BACKTRACE` says: backtraces are for bugs, which panic.
fn main() -> ExitCode {
    let parsed = settings::parse();
    match parsed.and_then(|(cli, matches)| run(cli, matches)) {
        Ok(code) => code,
        Err(error) => {
            // An error may quote a config file, a server's answer or a peer.
            let error = format!("{error:#}");
            let error = hbmon::printable::text(&error);
            let _ = writeln!(std::io::stderr(), "hbmon: error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// One thread for the server (and the fleets): its tasks hand each other
/// work all the time, and on one thread a hand-off is a queue push, where
/// across threads it is a wake-up, which costs more per heartbeat than the
/// second core gives back (the README's bench section has the figures).
/// Front ends get threads of their own, so drawing never delays a heartbeat.
#[tokio::main(flavor = "current_thread")]
async fn run(cli: Cli, matches: clap::ArgMatches) -> Result<ExitCode> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match cli.command {
        Command::Serve(args) if args.print_config => {
            let serve = matches
                .subcommand_matches("serve")
                .context("no serve settings")?;
            write!(std::io::stdout(), "{}", settings::effective(serve)?)?;
        }
        Command::Serve(args) if args.check => {
            for note in args.check()? {
                writeln!(std::io::stdout(), "hbmon: {}", printable::text(&note))?;
            }
            writeln!(std::io::stdout(), "hbmon: the settings are good")?;
        }
        Command::Serve(args) => serve(*args).await?,
        Command::Demo(args) => {
            let config = demo::config();
            let admin = (args.admin.0.clone()).map(|endpoint| AdminSetup {
                endpoint,
                settings: api::Settings::default(),
            });
            let (server, api) = start(args.listen, config.clone(), admin).await?;
            demo::spawn_fleets(server.local_addr(), &config, server.stop_token());
            attach(server, api, &args.front, None).await?;
        }
        Command::Client(args) => {
            let heartbeats = args.builder()?.spawn();
            // Ctrl-C, SIGTERM or SIGHUP: say goodbye first.
            process::cancel_on_terminate(heartbeats.stop_token())?;
            let ending = heartbeats.ended().await?;
            return Ok(ExitCode::from(ending.exit_code()));
        }
        Command::Simulate(args) => {
            progress::run(args.plan().await?, args.duration, args.format).await?
        }
        Command::History(args) => history::run(&args.path, &args.filter(), args.format)?,
        Command::Top(args) => {
            let stop = CancellationToken::new();
            process::cancel_on_terminate(stop.clone())?;
            let (sources, read_only) = args.sources(stop.clone()).await?;
            if !std::io::stdout().is_terminal() {
                bail!("hbmon top needs a terminal (scripts: GET /v1/clients, /v1/events)");
            }
            let mode = tui::Mode {
                quit_stops_server: false,
                read_only,
            };
            let dashboard = tokio::task::spawn_blocking(move || tui::run_fleet(sources, mode));
            dashboard.await.context("the dashboard crashed")??;
        }
        Command::Completions { shell } => cli::docs::completions(shell),
        Command::Man { subcommand, dir } => match dir {
            Some(dir) => cli::docs::write_pages(&dir)?,
            None => cli::docs::man(subcommand.as_deref())?,
        },
        Command::Bench(args) if let Some(replay) = args.replay()? => {
            let report = bench::detectors::run(&replay)?;
            let text = match args.replay.format {
                Format::Json => serde_json::to_string_pretty(&report)?,
                Format::Text => bench::detectors::table(&report),
            };
            writeln!(std::io::stdout(), "{text}").context("writing the report")?;
        }
        Command::Bench(args) => {
            let report = bench::run(&args.options()).await?;
            let text = serde_json::to_string_pretty(&report)?;
            writeln!(std::io::stdout(), "{text}").context("writing the report")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `hbmon serve`: the server and its front ends, until it stops. What it
/// warns of goes to stderr and into the `started` event.
async fn serve(args: ServeArgs) -> Result<()> {
    let hooks = args.hooks.setup()?;
    process::check_open_files(&args.open_files())?;
    let (mut config, admin) = args.setup()?;
    config.warnings = args.warnings(admin.as_ref());
    for warning in &config.warnings {
        eprintln!("hbmon: warning: {warning}");
    }
    let (server, api) = start(args.listen, config, admin).await?;
    attach(server, api, &args.front, hooks).await
}

/// The operator API, bound before the server starts (so its snapshots can
/// say where), waiting for the server's feed.
type BoundApi = (hbmon::endpoint::Listener, api::Settings);

async fn start(
    listen: SocketAddr,
    mut config: Config,
    admin: Option<AdminSetup>,
) -> Result<(Server, Option<BoundApi>)> {
    process::raise_open_files();
    let api = match admin {
        Some(AdminSetup { endpoint, settings }) => {
            let listener = hbmon::endpoint::Listener::bind(&endpoint).await.with_context(|| {
                format!("cannot serve the operator API on {endpoint} (--admin ADDR serves it elsewhere, --admin off not at all)")
            })?;
            config.admin = Some(listener.endpoint()?.to_string());
            Some((listener, settings))
        }
        None => None,
    };
    let listener = server::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    let server = Server::start(listener, config).context("starting the server")?;
    process::cancel_on_terminate(server.stop_token())?;
    Ok((server, api))
}

/// Runs the front end the arguments ask for until the server stops.
async fn attach(
    server: Server,
    api: Option<BoundApi>,
    front: &FrontArgs,
    hooks: Option<Hooks>,
) -> Result<()> {
    let dashboard = !front.no_tui && std::io::stdout().is_terminal();
    if !front.no_tui && !dashboard {
        eprintln!("hbmon: stdout is not a terminal; running headless (as with --no-tui)");
    }
    let hook_stats = hooks.as_ref().map(|_| Arc::new(HookStats::default()));
    let hooks = match (hooks, &hook_stats) {
        (Some(hooks), Some(stats)) => {
            let thread = hooks::spawn(server.subscribe(), hooks, Arc::clone(stats))?;
            Some(server.failure().watch_thread("the event hooks", thread)?)
        }
        _ => None,
    };
    if let Some((listener, settings)) = api {
        let figures = api::Figures {
            publish: Some(server.publish_stats()),
            hooks: hook_stats.clone(),
            tls: server.tls_stats(),
        };
        let api = api::spawn(listener, server.feed(), figures, settings);
        server.failure().watch("the operator API", api);
    }
    let feed = server.feed();
    let options = headless::Options {
        format: front.format,
        stats_every: front.stats_every,
        hooks: hook_stats,
    };
    // Front ends block on their output: each gets a thread of its own.
    let result = tokio::task::spawn_blocking(move || {
        if dashboard {
            let mode = tui::Mode {
                quit_stops_server: true,
                read_only: false,
            };
            tui::run(feed, mode)
        } else {
            headless::run(feed, options)
        }
    })
    .await;
    // However the front end ended, the server goes down with it.
    let stopped = stop_after(server, result).await;
    // The hooks saw their stream end with the server: those still queued
    // are dropped, those running are killed if still running
    // `hooks::STOP_GRACE` later, so this wait is short whatever they do.
    if let Some(hooks) = hooks {
        let _ = tokio::task::spawn_blocking(move || hooks.join()).await;
    }
    stopped
}

/// Stops the server once its front end has `ended`, and waits for it. A
/// front end that panicked stops it for that failure; a server stopped by
/// a failure is the error (and the exit status non-zero), before anything
/// the front end said.
async fn stop_after(server: Server, ended: Result<Result<()>, JoinError>) -> Result<()> {
    let ended = ended.unwrap_or_else(|error| {
        server.failure().raise(server::join_message(error));
        Ok(())
    });
    server.stop();
    server.stopped().await?;
    ended
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::{Path, PathBuf};

    use hbmon::feed::event::EventKind;
    use serde_json::Value;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    fn journal(name: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("hbmon-{}-{name}.jsonl", std::process::id()));
        let _ = std::fs::remove_file(&path);
        path
    }

    /// A server on loopback with one client it has registered.
    async fn serving(journal: &Path) -> (Server, TcpStream) {
        let listener = server::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let config = Config {
            journal: Some(journal.to_owned()),
            ..Config::default()
        };
        let server = Server::start(listener, config).unwrap();
        let mut events = server.subscribe();
        let mut client = TcpStream::connect(server.local_addr()).await.unwrap();
        let body = br#"{"ip":"127.0.0.1","status":"alive","pid":1}"#;
        client.write_i32(body.len() as i32).await.unwrap();
        client.write_all(body).await.unwrap();
        while !matches!(
            *events.recv().await.unwrap().kind,
            EventKind::Connected { .. }
        ) {}
        (server, client)
    }

    /// The reason of the close frame the client gets.
    async fn close_reason(client: &mut TcpStream) -> String {
        loop {
            let mut body = vec![0; client.read_i32().await.unwrap() as usize];
            client.read_exact(&mut body).await.unwrap();
            let notice: Value = serde_json::from_slice(&body).unwrap();
            if notice["status"] == "close" {
                return notice["reason"].as_str().unwrap().to_owned();
            }
        }
    }

    fn last_line(journal: &Path) -> Value {
        let text = std::fs::read_to_string(journal).unwrap();
        serde_json::from_str(text.lines().last().unwrap()).unwrap()
    }

    /// The exit path `serve` takes: a front end's panic closes the clients
    /// saying why, ends the journal with it, and is the error `main` exits
    /// 1 with.
    #[tokio::test(flavor = "multi_thread")]
    async fn a_panic_in_the_front_end_stops_the_server_for_it_and_is_the_error() {
        let path = journal("front-panic");
        let (server, mut client) = serving(&path).await;
        let ended = tokio::task::spawn_blocking(|| -> Result<()> { panic!("the front end broke") });
        let error = stop_after(server, ended.await).await.unwrap_err();
        let reason = "server stopped: internal error: the front end broke";
        assert_eq!(error.to_string(), reason);
        assert_eq!(close_reason(&mut client).await, reason);
        let stopped = last_line(&path);
        assert_eq!(stopped["event"], "stopped");
        assert_eq!(stopped["error"], "internal error: the front end broke");
    }
}
