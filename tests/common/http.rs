//! HTTP helpers for the operator API's tests: requests as curl would make
//! them, every status handed back rather than failed on.

use std::time::Duration;

use serde_json::Value;

use super::{Beater, PATIENCE, Serve};

/// An HTTP agent that hands back every status instead of failing on 4xx.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(PATIENCE))
        .build()
        .into()
}

/// The answer to one request: status, content type and body.
pub struct Answer {
    pub status: u16,
    pub kind: String,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub fn answer(response: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = response.expect("an HTTP answer");
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Answer {
        status: response.status().as_u16(),
        kind,
        body: response.body_mut().read_to_string().unwrap_or_default(),
    }
}

pub fn url(serve: &Serve, path: &str) -> String {
    format!(
        "http://{}{path}",
        serve.admin.as_deref().expect("the API is on")
    )
}

pub fn get(serve: &Serve, path: &str) -> Answer {
    answer(agent().get(url(serve, path)).call())
}

pub fn post(serve: &Serve, path: &str, body: &str) -> Answer {
    answer(
        agent()
            .post(url(serve, path))
            .header("content-type", "application/json")
            .send(body),
    )
}

/// `n` clients heard by the server, with pids `first..first+n`.
pub fn beaters(serve: &mut Serve, first: u32, n: u32) -> Vec<Beater> {
    let beaters: Vec<Beater> = (first..first + n)
        .map(|pid| Beater::start(serve.addr, pid, Duration::from_millis(50)))
        .collect();
    serve.wait_for_clients("all heard", |clients| {
        clients.len() == n as usize && clients.iter().all(|c| c["pid"].is_u64())
    });
    beaters
}
