//! `POST /v1/maintenance`: puts clients into a maintenance window, or ends
//! their windows. The body names one target (a peer or several, an ip, a
//! pid, or the dashboard's filter text) and a `duration` (or `"off"`);
//! every bad field is refused by name.

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::routes::{client_address, parse_body};
use super::{ApiError, Shared};
use crate::durations;
use crate::feed::control::Target;
use crate::feed::event::rfc3339;

/// The body as sent. `pid` and `duration` are read by hand, so that a value
/// of the wrong type is refused with the field's name.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    peer: Option<String>,
    peers: Option<Vec<String>>,
    ip: Option<String>,
    pid: Option<Value>,
    filter: Option<String>,
    duration: Option<Value>,
}

/// `POST /v1/maintenance`: answers with the clients covered and when their
/// window ends, or 404 when it covers none.
pub async fn maintenance(State(api): Shared, body: Bytes) -> Result<Response, ApiError> {
    let body: Body = parse_body(&body)?;
    let length = length(body.duration.as_ref())?;
    let target = target(body)?;
    let answer = api.control.maintenance(target, length, "api").await?;
    let until = answer.until.map(rfc3339);
    if answer.clients.is_empty() {
        let error = match length {
            Some(_) => "no live client that said hello matches the target",
            None => "no client the target names is in maintenance",
        };
        let body = json!({ "error": error, "clients": [], "until": until });
        return Ok((StatusCode::NOT_FOUND, axum::Json(body)).into_response());
    }
    Ok(axum::Json(json!({ "clients": answer.clients, "until": until })).into_response())
}

/// `duration`: how long, within [`durations::MAINTENANCE`], or `None` for
/// `"off"`.
fn length(value: Option<&Value>) -> Result<Option<Duration>, ApiError> {
    let limit = humantime::format_duration(durations::MAINTENANCE.max);
    match value {
        None => Err(ApiError::bad(format!(
            r#"duration: missing (how long, e.g. "30m", at most {limit}; or "off" to end the windows)"#
        ))),
        Some(Value::String(text)) => {
            durations::window(text, "duration").map_err(|e| ApiError::bad(e.to_string()))
        }
        Some(other) => Err(ApiError::bad(format!(
            r#"duration: {other} is not a duration (a string like "30m", at most {limit}; or "off")"#
        ))),
    }
}

/// The one target the body names.
fn target(body: Body) -> Result<Target, ApiError> {
    let named = [
        body.peer.is_some() || body.peers.is_some(),
        body.ip.is_some(),
        body.pid.is_some(),
        body.filter.is_some(),
    ];
    match named.iter().filter(|&&n| n).count() {
        0 => {
            return Err(ApiError::bad(
                "the body names no client: send one of peer, peers, ip, pid or filter",
            ));
        }
        1 => {}
        _ => {
            return Err(ApiError::bad(
                "the body names clients more than one way: send only one of peer/peers, ip, pid or filter",
            ));
        }
    }
    let nonempty = |name: &str, text: String| {
        if text.trim().is_empty() {
            Err(ApiError::bad(format!("{name}: empty")))
        } else {
            Ok(text)
        }
    };
    if let Some(ip) = body.ip {
        return Ok(Target::Ip(nonempty("ip", ip)?));
    }
    if let Some(filter) = body.filter {
        return Ok(Target::Filter(nonempty("filter", filter)?));
    }
    if let Some(pid) = body.pid {
        let id = pid.as_u64().and_then(|p| u32::try_from(p).ok());
        return id.map(Target::Pid).ok_or_else(|| {
            ApiError::bad(format!(
                "pid: {pid} is not a process id (a whole number up to {})",
                u32::MAX
            ))
        });
    }
    let named: Vec<String> = body
        .peer
        .into_iter()
        .chain(body.peers.into_iter().flatten())
        .collect();
    if named.is_empty() {
        return Err(ApiError::bad("peers: empty"));
    }
    let peers = named
        .iter()
        .map(|p| client_address(p))
        .collect::<Result<_, _>>()?;
    Ok(Target::Peers(peers))
}
