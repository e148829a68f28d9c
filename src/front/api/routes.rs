//! The endpoints behind the token: the clients, the event stream and kicks;
//! and `/metrics`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as Sse, Sse as SseBody};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, stream};
use serde::Deserialize;
use serde_json::json;
use tokio::sync::broadcast::{self, error::RecvError};

use super::{ApiError, Shared, metrics};
use crate::feed::Event;
use crate::feed::client_line::ClientLine;
use crate::feed::event::{Stamped, rfc3339};
use crate::feed::query::Query;
use crate::protocol::Status;

/// Clients a `/v1/clients` page holds when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;

/// `GET /v1/clients?status=&filter=&sort=&limit=&offset=`: a page of the
/// live clients that match, in order, with how many match in all.
pub async fn clients(State(api): Shared, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let (query, offset, limit) = page(&params(raw.as_deref().unwrap_or_default())?)?;
    let snapshot = api.snapshots.borrow().clone();
    let body = off_thread(move || {
        let rows = query.rows(&snapshot.clients);
        let page: Vec<ClientLine> = rows
            .iter()
            .skip(offset)
            .take(limit)
            .map(|&i| ClientLine::from(&snapshot.clients[i]))
            .collect();
        serde_json::to_vec(&json!({
            "total": rows.len(),
            "offset": offset,
            "limit": limit,
            "clients": page,
        }))
    })
    .await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// Runs `work` on the blocking pool: what costs in proportion to the fleet
/// must not hold the server's thread.
async fn off_thread<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Whether the request accepts `kind` (its `Accept` header names it).
fn accepts(headers: &HeaderMap, kind: &str) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(kind))
}

/// A client's address as a request names it.
pub(super) fn client_address(text: &str) -> Result<SocketAddr, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad(format!("'{text}' is not a client address (ip:port)")))
}

/// A query string's parameters, decoded strictly: a value that is not
/// UTF-8 once decoded is refused, not read with replacement characters
/// (which would match nothing, and say nothing of why).
fn params(raw: &str) -> Result<HashMap<String, String>, ApiError> {
    let decode = |text: &str| {
        let text = text.replace('+', " ");
        percent_encoding::percent_decode_str(&text)
            .decode_utf8()
            .map(std::borrow::Cow::into_owned)
            .map_err(|_| {
                ApiError::bad(format!(
                    "the query: '{text}' is not UTF-8 once percent-decoded"
                ))
            })
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((decode(name)?, decode(value)?))
        })
        .collect()
}

/// The query a `/v1/clients` request asks for; every bad or unknown
/// parameter is named.
fn page(params: &HashMap<String, String>) -> Result<(Query, usize, usize), ApiError> {
    let mut query = Query::default();
    let (mut offset, mut limit) = (0, DEFAULT_LIMIT);
    let number = |name: &str, text: &str| {
        text.parse::<usize>()
            .map_err(|_| ApiError::bad(format!("{name}: '{text}' is not a whole number")))
    };
    for (name, value) in params {
        match name.as_str() {
            "status" => {
                query.status = Some(match value.as_str() {
                    "alive" => Status::Alive,
                    "leave" => Status::Leave,
                    _ => {
                        return Err(ApiError::bad(format!(
                            "status: '{value}' is not a live status (alive or leave)"
                        )));
                    }
                });
            }
            "filter" => query.filter = value.clone(),
            "sort" => {
                let (name, reverse) = match value.strip_prefix('-') {
                    Some(name) => (name, true),
                    None => (value.as_str(), false),
                };
                query.sort = name
                    .parse()
                    .map_err(|e| ApiError::bad(format!("sort: {e}")))?;
                query.reverse = reverse;
            }
            "offset" => offset = number("offset", value)?,
            "limit" => limit = number("limit", value)?,
            other => {
                return Err(ApiError::bad(format!(
                    "unknown parameter '{other}' (status, filter, sort, limit, offset)"
                )));
            }
        }
    }
    Ok((query, offset, limit))
}

/// `GET /v1/clients/IP:PORT`: one live client's story, as `show` tells it.
pub async fn details(
    State(api): Shared,
    axum::extract::Path(peer): axum::extract::Path<String>,
) -> Result<Response, ApiError> {
    let addr = client_address(&peer)?;
    match api.control.show(addr).await {
        Ok(details) => Ok(axum::Json(details).into_response()),
        Err(crate::feed::CommandError::NoSuchClient(_)) => Err(ApiError(
            StatusCode::NOT_FOUND,
            format!("no live client at {addr}"),
        )),
        Err(error) => Err(error.into()),
    }
}

/// `GET /v1/events`: every event from the moment of the request, as the
/// JSON lines `--format json` prints; server-sent events when the request
/// accepts `text/event-stream`. A reader that falls behind the ring gets a
/// `lagged` line saying how many it missed, and never slows the server.
pub async fn events(State(api): Shared, headers: HeaderMap) -> Response {
    let lines = lines(api.events.subscribe());
    if accepts(&headers, "text/event-stream") {
        let events = futures_util::StreamExt::map(lines, |line| {
            Ok::<_, Infallible>(Sse::default().data(line))
        });
        return SseBody::new(events).into_response();
    }
    let body = futures_util::StreamExt::map(lines, |mut line| {
        line.push('\n');
        Ok::<_, Infallible>(Bytes::from(line))
    });
    (
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response()
}

/// The JSON lines of an event stream, with `lagged` lines for what a slow
/// reader missed; ends when the server stops.
fn lines(receiver: broadcast::Receiver<Event>) -> impl Stream<Item = String> {
    stream::unfold(receiver, |mut receiver| async move {
        let line = match receiver.recv().await {
            Ok(event) => serde_json::to_string(&Stamped {
                ts: rfc3339(event.at),
                body: &event.kind,
            }),
            Err(RecvError::Lagged(missed)) => serde_json::to_string(&Stamped {
                ts: rfc3339(std::time::SystemTime::now()),
                body: &json!({ "event": "lagged", "missed": missed }),
            }),
            Err(RecvError::Closed) => return None,
        };
        Some((line.unwrap_or_default(), receiver))
    })
}

/// A kick's body: one peer or several, and an optional hold-off.
#[derive(Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = r#"an object like {"peer": "ip:port", "hold": "10m"} or {"peers": ["ip:port", ...]}"#
)]
struct KickBody {
    peer: Option<String>,
    #[serde(default)]
    peers: Vec<String>,
    hold: Option<String>,
}

/// `kick-leave`'s optional body.
#[derive(Deserialize, Default)]
#[serde(
    deny_unknown_fields,
    expecting = r#"an object like {"hold": "10m"}, or no body"#
)]
struct KickLeaveBody {
    hold: Option<String>,
}

pub(super) fn parse_body<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad(format!("the body: {e}")))
}

/// A kick's `hold`, within [`crate::durations::HOLD`].
fn hold(text: Option<&str>) -> Result<Option<Duration>, ApiError> {
    use crate::durations::{self, Bound};
    let bound = Bound {
        name: "hold",
        ..durations::HOLD
    };
    text.map(|t| durations::parse(t, &bound).map_err(|e| ApiError::bad(e.to_string())))
        .transpose()
}

/// `POST /v1/kick`: closes exactly these live clients; answers with those
/// kicked, or 404 naming the ones that are not connected (the others are
/// kicked all the same).
pub async fn kick(State(api): Shared, body: Bytes) -> Result<Response, ApiError> {
    let body: KickBody = parse_body(&body)?;
    let named: Vec<String> = body.peer.into_iter().chain(body.peers).collect();
    if named.is_empty() {
        return Err(ApiError::bad(
            r#"the body names no client: send {"peer": "ip:port"} or {"peers": ["ip:port", ...]}"#,
        ));
    }
    let peers = named
        .iter()
        .map(|p| client_address(p))
        .collect::<Result<Vec<_>, _>>()?;
    let hold = hold(body.hold.as_deref())?;
    let answer = api.control.kick_each(peers, "api", hold).await?;
    if answer.gone.is_empty() {
        return Ok(axum::Json(json!({ "kicked": answer.kicked })).into_response());
    }
    let gone: Vec<String> = answer.gone.iter().map(ToString::to_string).collect();
    let reason = format!("no live client at {}", gone.join(", "));
    let body = json!({ "error": reason, "kicked": answer.kicked, "unknown": gone });
    Ok((StatusCode::NOT_FOUND, axum::Json(body)).into_response())
}

/// `POST /v1/kick-leave`: closes every client in `leave`.
pub async fn kick_leave(State(api): Shared, body: Bytes) -> Result<Response, ApiError> {
    let body: KickLeaveBody = if body.iter().all(u8::is_ascii_whitespace) {
        KickLeaveBody::default()
    } else {
        parse_body(&body)?
    };
    let hold = hold(body.hold.as_deref())?;
    let kicked = api.control.kick_leave("api", hold).await?;
    Ok(axum::Json(json!({ "kicked": kicked })).into_response())
}

/// `GET /metrics`.
pub async fn metrics(State(api): Shared, headers: HeaderMap) -> Result<Response, ApiError> {
    let openmetrics = accepts(&headers, "application/openmetrics-text");
    let snapshot = Arc::clone(&api.snapshots.borrow());
    let figures = api.figures.clone();
    let text = off_thread(move || metrics::encode(snapshot, &figures, openmetrics)).await?;
    let kind = if openmetrics {
        metrics::OPENMETRICS
    } else {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    };
    Ok(([(header::CONTENT_TYPE, kind)], text).into_response())
}
