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

mod feed;
mod metrics;
mod routes;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::endpoint::Listener;
use crate::feed::{Control, Snapshot, Subscriber};
use crate::front::hooks::HookStats;
use crate::protocol::Token;

/// Request bodies are small JSON objects; anything larger is refused (413).
const MAX_BODY: usize = 64 * 1024;

/// What the API reads and acts through.
#[derive(Clone)]
pub struct Source {
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub events: Subscriber,
    pub control: Control,
    /// The hooks' figures, when `--on-event` runs hooks.
    pub hooks: Option<Arc<HookStats>>,
}

struct Api {
    source: Source,
    /// Required as `Authorization: Bearer TOKEN` on everything but
    /// `/metrics` and `/healthz`, when set.
    token: Option<Token>,
}

type Shared = State<Arc<Api>>;

/// Serves the API on `listener` until `stop` is cancelled.
pub fn spawn(listener: Listener, source: Source, token: Option<Token>, stop: CancellationToken) {
    let app = router(Arc::new(Api { source, token }));
    match listener {
        Listener::Tcp(listener) => {
            tokio::spawn(serve(listener, app, stop));
        }
        Listener::Unix(listener, path) => {
            tokio::spawn(async move {
                serve(listener, app, stop).await;
                let _ = std::fs::remove_file(path);
            });
        }
    }
}

/// Serves `app` on `listener` until `stop`, TCP and unix socket alike.
async fn serve<L>(listener: L, app: Router, stop: CancellationToken)
where
    L: axum::serve::Listener,
    L::Addr: std::fmt::Debug,
{
    let served = axum::serve(listener, app).with_graceful_shutdown(stop.cancelled_owned());
    if let Err(error) = served.await {
        tracing::error!("operator API: {error}");
    }
}

fn router(api: Arc<Api>) -> Router {
    let guarded = Router::new()
        .route("/v1/clients", get(routes::clients))
        .route("/v1/clients/{peer}", get(routes::details))
        .route("/v1/feed", get(feed::feed))
        .route("/v1/events", get(routes::events))
        .route("/v1/kick", post(routes::kick))
        .route("/v1/kick-leave", post(routes::kick_leave))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&api), authorize));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(routes::metrics))
        .merge(guarded)
        .fallback(unknown)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(api)
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

/// Lets a request through when no token is set, or it carries the token.
/// The token is compared in constant time and never logged.
async fn authorize(State(api): Shared, request: Request, next: Next) -> Response {
    let Some(token) = &api.token else {
        return next.run(request).await;
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(Token::new);
    if given.is_some_and(|given| token.matches(&given)) {
        return next.run(request).await;
    }
    let mut refusal = ApiError(
        StatusCode::UNAUTHORIZED,
        "this endpoint needs Authorization: Bearer TOKEN (the admin token)".to_owned(),
    )
    .into_response();
    refusal.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    refusal
}

async fn healthz(State(api): Shared) -> Response {
    let clients = api.source.snapshots.borrow().clients.len();
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
