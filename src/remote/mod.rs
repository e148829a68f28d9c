//! A [`Feed`] from a running server's operator API, for `hbmon top`: the
//! same snapshots, events and commands the dashboard gets in process, so
//! the dashboard cannot tell the difference.
//!
//! One task follows `GET /v1/feed` and keeps a [`Replica`] of the server's
//! snapshot; another turns commands into requests (`/v1/kick`, ...). When
//! the server goes away, the last snapshot stays, the feed's [`Link`] says
//! it is lost and why (beside the snapshots: they carry only the server's
//! state), and the follower reconnects with a back-off capped at [`RETRY_CAP`], so a server
//! that comes back is followed again within about a second. A model:
//! tokio-console's `conn.rs`.

pub mod discover;
pub mod fleet;
mod frames;
pub mod http;
pub mod servers;
mod sniff;
mod version;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use http_body_util::BodyExt;
use hyper::{Method, StatusCode, header};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::codec::FramedRead;
use tokio_util::io::StreamReader;
use tokio_util::sync::CancellationToken;

use crate::feed::control::{Command, CommandError, Kicked, Maintained, Target};
use crate::feed::details::Details;
use crate::feed::link::Refusal;
use crate::feed::snapshot::Settings;
use crate::feed::wire::{self, Replica};
use crate::feed::{Connection, Control, Event, Feed, Link, Snapshot, Subscriber};
use crate::liveness::Rules;
pub use frames::{FeedFrameError, FeedFrames};
pub use http::{Api, ApiError};

/// The longest wait between two attempts to reach a lost server.
const RETRY_CAP: Duration = Duration::from_secs(1);
/// The first wait.
const RETRY_FIRST: Duration = Duration::from_millis(100);
/// A server sends a frame at least every tick: this long without one, at
/// least, and it is taken for lost.
const SILENCE: Duration = Duration::from_secs(5);
/// The largest frame taken (a whole snapshot of a very large fleet).
const MAX_FRAME: usize = 256 << 20;
/// Events a front end may fall behind by.
const EVENTS: usize = 4096;

/// The frames of `/v1/feed`, each a [`wire`] frame.
pub type Frames = FramedRead<
    StreamReader<
        futures_util::stream::BoxStream<'static, std::io::Result<bytes::Bytes>>,
        bytes::Bytes,
    >,
    FeedFrames,
>;

/// Connects to the operator API `api` and returns a feed of its
/// server. Fails, saying why, when nothing answers there, when what answers
/// is not hbmon, or when it needs a token that was not given. Later losses
/// are not errors: the feed's link says it is lost, and it reconnects.
/// `stop` ends the feed (the viewer quits); the server runs on.
pub async fn attach(api: Api, stop: CancellationToken) -> Result<Feed, ApiError> {
    let mut frames = open(&api).await?;
    let mut replica = Replica::default();
    let first = next_snapshot(&api, &mut frames, &mut replica).await?.0;
    Ok(spawn(api, first, Some((frames, replica)), stop).0)
}

/// A feed of the server at `endpoint` whether or not it answers yet: one of
/// several servers, where one that is down must not keep `top` from
/// watching the others. Until it is reached, its link says why not and its
/// snapshot is an empty picture. Beside the feed, the version the server
/// runs, once it has said.
pub fn follow(api: Api, stop: CancellationToken) -> (Feed, Version) {
    let settings = Settings {
        tick: Duration::from_secs(1),
        rules: Rules::default(),
    };
    let unspecified = SocketAddr::from(([0, 0, 0, 0], 0));
    let nothing = Arc::new(Snapshot::empty(unspecified, settings));
    spawn(api, nothing, None, stop)
}

/// Which hbmon a followed server runs, once it has said.
pub type Version = watch::Receiver<Option<Arc<str>>>;

/// The feed's channels, and the tasks that fill them from `api`: a
/// follower (from `frames`, if already open) and a command sender.
fn spawn(
    api: Api,
    first: Arc<Snapshot>,
    frames: Option<(Frames, Replica)>,
    stop: CancellationToken,
) -> (Feed, Version) {
    let state = match frames {
        Some(_) => Connection::Connected,
        None => Connection::Lost("not reached yet".to_owned()),
    };
    let (snapshots, receiver) = watch::channel(first);
    let (events, events_rx) = broadcast::channel(EVENTS);
    let (commands, commands_rx) = mpsc::channel(16);
    let (connection, link) = watch::channel(state);
    let (version, version_rx) = watch::channel(None);
    let subscriber = Subscriber::new(&events);
    let follower = Follower {
        api: api.clone(),
        snapshots,
        events,
        connection,
        version: Arc::new(version),
    };
    tokio::spawn(follower.follow(frames, stop.clone()));
    tokio::spawn(serve_commands(api, commands_rx, receiver.clone()));
    let feed = Feed {
        snapshots: receiver,
        events: events_rx,
        subscriber,
        control: Control::new(commands),
        link: Link::new(link),
        stop,
    };
    (feed, version_rx)
}

/// Opens `/v1/feed`.
pub async fn open(api: &Api) -> Result<Frames, ApiError> {
    let response = api.request(Method::GET, "/v1/feed", None).await?;
    let kind = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if response.status() != StatusCode::OK || kind != wire::CONTENT_TYPE {
        let status = response.status();
        return Err(api.not_hbmon(format!("HTTP {status} for /v1/feed, content type '{kind}'")));
    }
    let body = response
        .into_body()
        .into_data_stream()
        .map_err(std::io::Error::other)
        .boxed();
    Ok(FramedRead::new(
        StreamReader::new(body),
        FeedFrames::new(MAX_FRAME),
    ))
}

/// Reads the next frame and applies it.
async fn next_snapshot(
    api: &Api,
    frames: &mut Frames,
    replica: &mut Replica,
) -> Result<(Arc<Snapshot>, Vec<Event>), ApiError> {
    let frame = match tokio::time::timeout(SILENCE, frames.next()).await {
        Err(_) => return Err(api.unreachable(format!("no news for {}s", SILENCE.as_secs()))),
        Ok(None) => return Err(api.unreachable("the server closed the feed")),
        Ok(Some(Err(FeedFrameError::Io(error)))) => return Err(api.unreachable(error)),
        Ok(Some(Err(error))) => return Err(api.not_hbmon(error)),
        Ok(Some(Ok(frame))) => frame,
    };
    replica.apply(&frame).map_err(|e| api.not_hbmon(e))
}

/// What the following task writes to: the feed's three senders, and
/// the server's version beside them.
struct Follower {
    api: Api,
    snapshots: watch::Sender<Arc<Snapshot>>,
    events: broadcast::Sender<Event>,
    connection: watch::Sender<Connection>,
    version: Arc<watch::Sender<Option<Arc<str>>>>,
}

impl Follower {
    /// Follows the feed until `stop`, reconnecting whenever it is lost (or
    /// until first reached, without `current`).
    async fn follow(self, mut current: Option<(Frames, Replica)>, stop: CancellationToken) {
        let api = &self.api;
        let mut wait = RETRY_FIRST;
        loop {
            if let Some((mut frames, mut replica)) = current.take() {
                // Reached (again): it may run another version than before.
                tokio::spawn(version::ask(api.clone(), Arc::clone(&self.version)));
                let lost = loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        next = next_snapshot(api, &mut frames, &mut replica) => match next {
                            Ok((snapshot, news)) => {
                                self.snapshots.send_replace(snapshot);
                                for event in news {
                                    let _ = self.events.send(event);
                                }
                            }
                            Err(error) => break error,
                        },
                    }
                };
                self.lose(&lost);
                wait = RETRY_FIRST;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(wait) => {}
            }
            wait = wait.saturating_mul(2).min(RETRY_CAP);
            let mut replica = Replica::default();
            match open(api).await {
                Ok(mut frames) => match next_snapshot(api, &mut frames, &mut replica).await {
                    Ok((snapshot, _)) => {
                        self.snapshots.send_replace(snapshot);
                        self.connection.send_replace(Connection::Connected);
                        current = Some((frames, replica));
                    }
                    Err(error) => self.lose(&error),
                },
                Err(error) => self.lose(&error),
            }
        }
    }

    /// The server is lost, and why: the last snapshot stays on screen. A
    /// server that answers but refuses says so apart (a list of servers
    /// shows "needs a token", "not hbmon"). Nothing is sent when nothing
    /// changed, so a server down for long does not wake the viewer.
    fn lose(&self, why: &ApiError) {
        let text = why.to_string();
        let state = match why {
            ApiError::Unauthorized(_) => Connection::Refused(Refusal::NeedsToken, text),
            ApiError::NotHbmon(..) | ApiError::HeartbeatPort(_) => {
                Connection::Refused(Refusal::NotHbmon, text)
            }
            ApiError::Unreachable(..) | ApiError::Tls(..) => Connection::Lost(text),
        };
        self.connection.send_if_modified(|now| {
            let changed = *now != state;
            *now = state;
            changed
        });
    }
}

#[derive(Deserialize)]
struct KickAnswer {
    #[serde(default)]
    kicked: Vec<SocketAddr>,
    #[serde(default)]
    unknown: Vec<SocketAddr>,
    error: Option<String>,
}

/// Carries out the dashboard's commands as requests.
async fn serve_commands(
    api: Api,
    mut commands: mpsc::Receiver<Command>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
) {
    while let Some(command) = commands.recv().await {
        let api = api.clone();
        let hold_text =
            |hold: Option<Duration>| hold.map(|h| humantime::format_duration(h).to_string());
        match command {
            Command::Kick {
                peers, hold, reply, ..
            } => {
                let body = json!({ "peers": peers, "hold": hold_text(hold) });
                tokio::spawn(async move {
                    let answer = kick(&api, "/v1/kick", body)
                        .await
                        .map(|(kicked, gone)| Kicked { kicked, gone });
                    let _ = reply.send(answer);
                });
            }
            Command::KickLeave { hold, reply, .. } => {
                let body = json!({ "hold": hold_text(hold) });
                tokio::spawn(async move {
                    let _ = reply.send(
                        kick(&api, "/v1/kick-leave", body)
                            .await
                            .map(|(kicked, _)| kicked),
                    );
                });
            }
            Command::Maintenance {
                target,
                length,
                reply,
                ..
            } => {
                tokio::spawn(async move {
                    let _ = reply.send(maintain(&api, &target, length).await);
                });
            }
            Command::List { reply } => {
                let _ = reply.send(Ok(snapshots.borrow().clone()));
            }
            Command::Show { peer, reply } => {
                tokio::spawn(async move {
                    let path = format!("/v1/clients/{peer}");
                    let answer = match api
                        .json::<serde_json::Value>(Method::GET, &path, None)
                        .await
                    {
                        Ok((StatusCode::OK, value)) => serde_json::from_value::<Details>(value)
                            .map_err(|e| remote(api.not_hbmon(e))),
                        Ok((StatusCode::NOT_FOUND, _)) => Err(CommandError::NoSuchClient(peer)),
                        Ok((status, value)) => Err(refused(status, &value)),
                        Err(error) => Err(remote(error)),
                    };
                    let _ = reply.send(answer);
                });
            }
        }
    }
}

/// A kick request; the peers kicked and those not connected.
async fn kick(
    api: &Api,
    path: &str,
    body: serde_json::Value,
) -> Result<(Vec<SocketAddr>, Vec<SocketAddr>), CommandError> {
    let body = serde_json::to_vec(&body).map_err(remote)?;
    let (status, answer) = api
        .json::<serde_json::Value>(Method::POST, path, Some(body))
        .await
        .map_err(remote)?;
    match status {
        StatusCode::OK | StatusCode::NOT_FOUND => {
            let answer: KickAnswer =
                serde_json::from_value(answer).map_err(|e| remote(api.not_hbmon(e)))?;
            if status == StatusCode::NOT_FOUND && answer.unknown.is_empty() {
                return Err(remote(answer.error.unwrap_or_default()));
            }
            Ok((answer.kicked, answer.unknown))
        }
        _ => Err(refused(status, &answer)),
    }
}

#[derive(Deserialize)]
struct MaintenanceAnswer {
    #[serde(default)]
    clients: Vec<SocketAddr>,
    until: Option<String>,
}

/// A maintenance request (`POST /v1/maintenance`); the clients covered.
async fn maintain(
    api: &Api,
    target: &Target,
    length: Option<Duration>,
) -> Result<Maintained, CommandError> {
    let mut body = match target {
        Target::Peers(peers) => json!({ "peers": peers }),
        Target::Ip(ip) => json!({ "ip": ip }),
        Target::Pid(pid) => json!({ "pid": pid }),
        Target::Filter(text) => json!({ "filter": text }),
    };
    body["duration"] = json!(length.map_or_else(
        || "off".to_owned(),
        |d| humantime::format_duration(d).to_string()
    ));
    let body = serde_json::to_vec(&body).map_err(remote)?;
    let (status, answer) = api
        .json::<serde_json::Value>(Method::POST, "/v1/maintenance", Some(body))
        .await
        .map_err(remote)?;
    if status != StatusCode::OK {
        return Err(refused(status, &answer));
    }
    let answer: MaintenanceAnswer =
        serde_json::from_value(answer).map_err(|e| remote(api.not_hbmon(e)))?;
    let until = (answer.until.as_deref())
        .map(humantime::parse_rfc3339)
        .transpose()
        .map_err(|e| remote(api.not_hbmon(e)))?;
    Ok(Maintained {
        clients: answer.clients,
        until,
    })
}

fn refused(status: StatusCode, answer: &serde_json::Value) -> CommandError {
    let reason = answer["error"].as_str().unwrap_or("no reason given");
    remote(format!("the server refused (HTTP {status}): {reason}"))
}

/// A command that failed across the socket, in words.
fn remote(why: impl ToString) -> CommandError {
    CommandError::Remote(why.to_string())
}
