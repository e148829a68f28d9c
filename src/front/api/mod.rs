//! The operator API (`serve --admin`): HTTP/1.1 for operators and their
//! tools, on TCP or a unix socket. Another front end over the feed, a
//! sibling of the dashboard and the headless stream: it reads snapshots and
//! events and sends commands, and knows nothing of the server's insides.
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /healthz` | `{"status":"ok"}` while the server runs |
//! | `GET /metrics` | Prometheus text, or OpenMetrics when asked for |
//! | `GET /v1/clients` | live clients: `status`, `filter`, `sort`, `limit`, `offset` |
//! | `GET /v1/clients/IP:PORT` | one client's story |
//! | `GET /v1/feed` | snapshots for `hbmon top`, as whole then changes |
//! | `GET /v1/events` | the `--format json` lines from now on (NDJSON, or SSE) |
//! | `POST /v1/kick` | `{"peer": "ip:port"}` or `{"peers": [...]}`, `"hold"` |
//! | `POST /v1/kick-leave` | every client in `leave` |
//!
//! It runs on the server's runtime, and never holds it up: whatever costs
//! in proportion to the fleet (encoding the clients, the metrics) runs on
//! the blocking pool, and a slow reader of `/v1/events` only falls behind
//! on its own bounded ring.

mod accept;
mod activity;
mod feed;
mod guard;
mod metrics;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::json;
use tokio::sync::watch;

use accept::Limits;
pub use accept::OVERFLOW;
use activity::Timeouts;
use guard::Hosts;

use crate::endpoint::Listener;
use crate::feed::{Control, Feed, Snapshot, Subscriber};
use crate::front::hooks::HookStats;
use crate::printable;
use crate::protocol::Token;
use crate::stats::PublishStats;
use crate::tls::inspect::Expiry;

/// Request bodies are small JSON objects; anything larger is refused (413)
/// as it is read, before the router (see `accept::whole`).
const MAX_BODY: usize = 64 * 1024;

/// Default `--admin-max-connections`: room for scrapers, scripts and a
/// few `hbmon top` viewers (each holds one for its feed).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 64;
/// Default `--admin-head-timeout`.
pub const DEFAULT_HEAD_TIMEOUT: &str = "10s";
/// Default `--admin-idle-timeout`.
pub const DEFAULT_IDLE_TIMEOUT: &str = "60s";

/// What `/metrics` reads beside the feed: figures about the work of the
/// server and its hooks, which are not the server's state and so are not
/// in the feed.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    /// What publishing snapshots costs the registry.
    pub publish: Option<Arc<PublishStats>>,
    /// The hooks' figures, when `--on-event` runs hooks.
    pub hooks: Option<Arc<HookStats>>,
    /// The serving certificate's expiry, when the server has one.
    pub certificate: Option<Arc<Expiry>>,
}

/// Who the API answers and how much it may hold (`serve --admin-*`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Required as `Authorization: Bearer TOKEN` on everything but
    /// `/metrics` and `/healthz`, when set.
    pub token: Option<Token>,
    /// Names a request's `Host` may give besides loopback and the listen
    /// address (`--admin-host`).
    pub hosts: Vec<String>,
    /// Connections served at once (`/v1/feed` and `/v1/events` readers
    /// included).
    pub max_connections: usize,
    /// How long a request's head may take to arrive.
    pub head_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token: None,
            hosts: Vec::new(),
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
            head_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

impl Settings {
    /// The file descriptors the API may hold at once.
    pub fn open_files(&self) -> usize {
        self.max_connections.saturating_add(OVERFLOW)
    }
}

/// The API's share of the feed, and what it answers with.
struct Api {
    snapshots: watch::Receiver<Arc<Snapshot>>,
    events: Subscriber,
    control: Control,
    figures: Figures,
    token: Option<Token>,
    hosts: Hosts,
}

type Shared = State<Arc<Api>>;

/// Serves the API on `listener`, over `feed`, until the feed's `stop` is
/// cancelled; the task ends when it has.
pub fn spawn(
    listener: Listener,
    feed: Feed,
    figures: Figures,
    settings: Settings,
) -> tokio::task::JoinHandle<()> {
    // The API subscribes a reader per `/v1/events` request; the feed's own
    // receiver, which nobody here would read, is let go at once.
    let Feed {
        snapshots,
        subscriber,
        control,
        stop,
        ..
    } = feed;
    let listen = match &listener {
        Listener::Tcp(listener) => listener.local_addr().ok().map(|a| a.ip()),
        Listener::Unix(_) => None,
    };
    let hosts = Hosts::new(listen, &settings.hosts);
    let limits = Limits {
        max_connections: settings.max_connections,
        timeouts: Timeouts {
            head: settings.head_timeout,
            idle: settings.idle_timeout,
        },
    };
    let api = Arc::new(Api {
        snapshots,
        events: subscriber,
        control,
        figures,
        token: settings.token,
        hosts,
    });
    tokio::spawn(accept::run(listener, router(api), limits, stop))
}

fn router(api: Arc<Api>) -> Router {
    let kicks = Router::new()
        .route("/v1/kick", post(routes::kick))
        .route("/v1/kick-leave", post(routes::kick_leave))
        .route_layer(middleware::from_fn(guard::same_origin));
    let guarded = Router::new()
        .route("/v1/clients", get(routes::clients))
        .route("/v1/clients/{peer}", get(routes::details))
        .route("/v1/feed", get(feed::feed))
        .route("/v1/events", get(routes::events))
        .merge(kicks)
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&api),
            guard::authorize,
        ));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(routes::metrics))
        .merge(guarded)
        .fallback(unknown)
        .method_not_allowed_fallback(wrong_method)
        .layer(middleware::map_response(printable))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&api),
            guard::host,
        ))
        .with_state(api)
}

/// Answers that an operator may read in a terminal (`curl` prints them
/// as they come) carry no character that a terminal would act on: what
/// clients reported is written with `\uXXXX` escapes instead, frame by
/// frame for the event streams, and decodes to the same values.
async fn printable(response: Response) -> Response {
    let textual = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|kind| {
            [
                "application/json",
                "application/x-ndjson",
                "text/event-stream",
            ]
            .iter()
            .any(|textual| kind.starts_with(textual))
        });
    if !textual {
        return response;
    }
    let (parts, body) = response.into_parts();
    if hyper::body::Body::size_hint(&body).exact().is_none() {
        // A stream: escaped as each frame goes.
        let body = axum::body::Body::new(body.map_frame(|frame| frame.map_data(escape_json)));
        return Response::from_parts(parts, body);
    }
    // A whole answer keeps its length.
    match body.collect().await {
        Ok(whole) => Response::from_parts(parts, escape_json(whole.to_bytes()).into()),
        Err(error) => ApiError::internal(error).into_response(),
    }
}

/// One frame of a JSON answer through [`printable::json`]; a frame that is
/// not whole UTF-8 (never the case for what this API writes) is left as it is.
fn escape_json(data: axum::body::Bytes) -> axum::body::Bytes {
    match std::str::from_utf8(&data).map(printable::json) {
        Ok(std::borrow::Cow::Owned(escaped)) => escaped.into(),
        _ => data,
    }
}

/// A refusal with its reason, as `{"error": "..."}`.
pub struct ApiError(StatusCode, String);

impl ApiError {
    fn bad(reason: impl Into<String>) -> Self {
        ApiError(StatusCode::BAD_REQUEST, reason.into())
    }

    fn internal(error: impl std::fmt::Display) -> Self {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, axum::Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<crate::feed::CommandError> for ApiError {
    fn from(error: crate::feed::CommandError) -> Self {
        ApiError(StatusCode::SERVICE_UNAVAILABLE, error.to_string())
    }
}

async fn healthz(State(api): Shared) -> Response {
    let clients = api.snapshots.borrow().clients.len();
    axum::Json(json!({ "status": "ok", "clients": clients })).into_response()
}

async fn wrong_method(request: Request) -> ApiError {
    let path = request.uri().path();
    let allowed = if path.starts_with("/v1/kick") {
        "POST"
    } else {
        "GET"
    };
    ApiError(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{path} takes {allowed}, not {}", request.method()),
    )
}

async fn unknown(request: Request) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!(
            "no endpoint {} {} (see GET /healthz, /metrics, /v1/clients, /v1/events; POST /v1/kick, /v1/kick-leave)",
            request.method(),
            request.uri().path()
        ),
    )
}
