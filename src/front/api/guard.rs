//! Who the API answers. Three checks, each a middleware:
//!
//! - every request must name the API in its `Host`: a web page whose name
//!   an attacker re-points at 127.0.0.1 (DNS rebinding) sends its own name,
//!   and is refused before it can read anything;
//! - what changes the server (the kicks) must not come from a browser on
//!   another site: a foreign `Origin`, a `Sec-Fetch-Site` other than
//!   `same-origin` or `none`, or a body not sent as `application/json` (a
//!   type no page can send to another site without asking first);
//! - with a token set, everything but `/metrics` and `/healthz` needs it.
//!
//! A unix socket is exempt from the `Host` check: no browser can reach it,
//! and whoever can open it (its owner, by its mode) could send any `Host`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Shared};
use crate::protocol::Token;

/// How a request reached the API: on TCP at this local address, or on the
/// unix socket.
#[derive(Clone, Copy, Debug)]
pub enum Arrival {
    Tcp(SocketAddr),
    Unix,
}

/// The names a request's `Host` may give: loopback names and addresses,
/// the listen address (or, listening on every address, the one the request
/// arrived at), and the operator's own (`--admin-host`).
pub struct Hosts {
    listen: Option<IpAddr>,
    names: Vec<String>,
}

impl Hosts {
    pub fn new(listen: Option<IpAddr>, names: &[String]) -> Hosts {
        let names = names.iter().map(|n| n.to_ascii_lowercase()).collect();
        Hosts { listen, names }
    }

    /// Whether `host` (a `Host` header's value) names this API, reached
    /// at `local`.
    fn admits(&self, host: &str, local: SocketAddr) -> bool {
        let Ok(authority) = host.parse::<axum::http::uri::Authority>() else {
            return false;
        };
        if authority.as_str().contains('@') {
            return false;
        }
        let name = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
        match name.parse::<IpAddr>() {
            Ok(ip) => ip.is_loopback() || Some(ip) == self.listen || ip == local.ip(),
            Err(_) => name == "localhost" || self.names.contains(&name),
        }
    }

    fn refusal(&self, host: Option<&str>) -> ApiError {
        let listen = self
            .listen
            .filter(|ip| !ip.is_unspecified() && !ip.is_loopback())
            .map_or(String::new(), |ip| format!(", {ip}"));
        let given = match host {
            Some(host) => format!("Host '{host}' does not name this API"),
            None => "the request has no Host header".to_owned(),
        };
        ApiError(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "{given}: it answers to localhost, loopback addresses{listen} and the names given with --admin-host (this refuses web pages that re-point their own name at this address)"
            ),
        )
    }
}

/// Lets a request through when its `Host` names the API.
pub async fn host(State(api): Shared, request: Request, next: Next) -> Response {
    let Some(Arrival::Tcp(local)) = request.extensions().get::<Arrival>().copied() else {
        return next.run(request).await;
    };
    let host = request
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("(not text)"));
    if host.is_some_and(|host| api.hosts.admits(host, local)) {
        return next.run(request).await;
    }
    api.hosts.refusal(host).into_response()
}

/// Lets a kick through unless a browser sent it from another site.
pub async fn same_origin(request: Request, next: Next) -> Response {
    match cross_site(request.headers()) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    }
}

/// Why a browser on another site may have sent this, if it may.
fn cross_site(headers: &HeaderMap) -> Option<ApiError> {
    let text = |name| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("(not text)"))
    };
    let forbidden = |why: String| {
        Some(ApiError(
            StatusCode::FORBIDDEN,
            format!("{why}: kicks come from operators' tools, never from web pages"),
        ))
    };
    if let Some(site) = text("sec-fetch-site")
        && !matches!(site, "same-origin" | "none")
    {
        return forbidden(format!(
            "refused a request a browser sent from another site (Sec-Fetch-Site: {site})"
        ));
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let own = text(header::HOST.as_str()).map(|host| format!("http://{host}"));
        if !own.is_some_and(|own| own.eq_ignore_ascii_case(origin)) {
            return forbidden(format!(
                "refused a request from another origin (Origin: {origin})"
            ));
        }
    }
    let kind = text(header::CONTENT_TYPE.as_str());
    let media = kind.and_then(|k| k.split(';').next()).map(str::trim);
    if !media.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
        return Some(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "a kick must be sent with Content-Type: application/json, even with no body; this one has {}",
                kind.map_or("none".to_owned(), |k| format!("'{k}'"))
            ),
        ));
    }
    None
}

/// What a request's `Authorization` holds.
enum Credential {
    Missing,
    NotBearer,
    Bearer(Option<Token>),
}

fn credential(headers: &HeaderMap) -> Credential {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Credential::Missing;
    };
    let value = value.to_str().unwrap_or_default().trim();
    let (scheme, token) = value
        .split_once(|c: char| c.is_ascii_whitespace())
        .unwrap_or((value, ""));
    // RFC 7235: the scheme is case-insensitive.
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Credential::NotBearer;
    }
    Credential::Bearer(Token::new(token))
}

/// Lets a request through when no token is set, or it carries the token.
/// A missing token and a wrong one get different words (the fixes
/// differ); the token is compared in constant time and never logged.
pub async fn authorize(State(api): Shared, request: Request, next: Next) -> Response {
    let Some(token) = &api.token else {
        return next.run(request).await;
    };
    let reason = match credential(request.headers()) {
        Credential::Bearer(Some(given)) if token.matches(&given) => {
            return next.run(request).await;
        }
        Credential::Missing => {
            "this endpoint needs the admin token: send Authorization: Bearer TOKEN"
        }
        Credential::NotBearer => {
            "Authorization must be Bearer TOKEN (the admin token), in the Bearer scheme"
        }
        Credential::Bearer(_) => {
            "the admin token given is wrong (it is the one in the server's --admin-token-file or HBMON_ADMIN_TOKEN)"
        }
    };
    let mut refusal = ApiError(StatusCode::UNAUTHORIZED, reason.to_owned()).into_response();
    refusal.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static("Bearer"),
    );
    refusal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_admit_loopback_the_listen_address_the_arrival_and_named_ones() {
        let hosts = Hosts::new(
            Some("10.0.0.5".parse().unwrap()),
            &["Mon.Example".to_owned()],
        );
        let local: SocketAddr = "192.168.1.9:14001".parse().unwrap();
        for host in [
            "localhost",
            "LOCALHOST:14001",
            "localhost.",
            "127.0.0.1",
            "127.0.0.1:1",
            "[::1]",
            "[::1]:14001",
            "10.0.0.5:14001",
            "192.168.1.9:14001",
            "mon.example",
            "mon.example:80",
        ] {
            assert!(hosts.admits(host, local), "{host}");
        }
        for host in [
            "evil.example",
            "evil.example:14001",
            "10.0.0.6",
            "localhost.evil.example",
            "x@127.0.0.1",
            "",
            "[::1",
            "mon.example.evil",
        ] {
            assert!(!hosts.admits(host, local), "{host}");
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        for value in ["Bearer t0k", "bearer t0k", "BEARER  t0k "] {
            assert!(
                matches!(credential(&headers(value)), Credential::Bearer(Some(t)) if t.matches(&Token::new("t0k").unwrap())),
                "{value}"
            );
        }
        assert!(matches!(
            credential(&headers("Basic dTpw")),
            Credential::NotBearer
        ));
        assert!(matches!(
            credential(&headers("Bearer")),
            Credential::Bearer(None)
        ));
        assert!(matches!(credential(&HeaderMap::new()), Credential::Missing));
    }
}
