//! Servers found by Prometheus, for `hbmon top --discover`: Prometheus
//! already knows the fleet through its own service discovery, so `top`
//! asks it (`GET /api/v1/targets?state=active`) rather than needing a
//! second list. Each active target of the job is a server, named by its
//! `instance` label and reached at the address Prometheus scrapes (the
//! operator API serves `/metrics` beside `/v1/...`).
//!
//! Prometheus is trusted no more than a peer: the answer, the number of
//! targets and each label are bounded, and what does not fit is an error
//! that says which limit, never a panic. [`follow`] asks again on a timer;
//! when Prometheus cannot be reached it keeps the last list and says why.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::{Request, StatusCode, Uri, header};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::endpoint::Endpoint;
use crate::printable;

/// The job whose targets are followed unless told otherwise.
pub const DEFAULT_JOB: &str = "hbmon";
/// How often [`follow`] asks again unless told otherwise.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(30);
/// How long connecting to Prometheus and its whole answer may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read.
const MAX_ANSWER: usize = 8 << 20;
/// The most targets of one job followed.
pub const MAX_TARGETS: usize = 1000;
/// The longest label (job, instance) and address taken.
const MAX_LABEL: usize = 256;
/// The longest Prometheus URL taken.
const MAX_URL: usize = 2048;

/// A server Prometheus scrapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// Its `instance` label, made printable.
    pub name: String,
    /// Its operator API: the address Prometheus scrapes.
    pub connect: Endpoint,
}

/// What asking Prometheus found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    /// The job's active targets, by name.
    pub targets: Vec<Target>,
    /// Targets of the job that cannot be followed, and why (a host name
    /// that does not resolve, a label over the limit).
    pub left_out: Vec<String>,
    /// Why the last ask failed ([`follow`] only): `targets` are then those
    /// found before.
    pub trouble: Option<String>,
}

/// Where Prometheus answers: `http://HOST:PORT`, perhaps with a path prefix
/// (`http://10.0.0.9:9090/prometheus`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prometheus {
    /// `HOST:PORT`, to connect to and to name in the `Host` header.
    authority: String,
    /// The path prefix, without a trailing slash.
    prefix: String,
}

impl std::str::FromStr for Prometheus {
    type Err = anyhow::Error;

    fn from_str(url: &str) -> Result<Prometheus> {
        if url.len() > MAX_URL {
            bail!(
                "the Prometheus URL is {} bytes; at most {MAX_URL} are taken",
                url.len()
            );
        }
        let uri: Uri = url.parse().with_context(|| {
            format!(
                "'{}' is not a URL (write http://HOST:PORT)",
                printable::text(url)
            )
        })?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                bail!("'{other}' URLs are not supported for Prometheus; write http://HOST:PORT")
            }
            None => bail!(
                "'{}' has no scheme (write http://HOST:PORT)",
                printable::text(url)
            ),
        }
        let authority = uri.authority().context("the Prometheus URL has no host")?;
        let port = authority.port_u16().unwrap_or(80);
        Ok(Prometheus {
            authority: format!("{}:{port}", authority.host()),
            prefix: uri.path().trim_end_matches('/').to_owned(),
        })
    }
}

impl std::fmt::Display for Prometheus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority, self.prefix)
    }
}

/// Asks `prometheus` once for the active targets of `job`.
pub async fn targets(prometheus: &Prometheus, job: &str) -> Result<Discovered> {
    check_job(job)?;
    let body = tokio::time::timeout(TIMEOUT, get(prometheus, "/api/v1/targets?state=active"))
        .await
        .with_context(|| {
            format!(
                "Prometheus at {prometheus} did not answer within {}",
                humantime::format_duration(TIMEOUT)
            )
        })??;
    let found = parse(&body, job).with_context(|| format!("Prometheus at {prometheus}"))?;
    Ok(resolve(found).await)
}

/// Follows the targets of `job`, asking again every `every`. The first ask
/// must succeed (a wrong URL is an error at once); later failures keep the
/// last targets and set [`Discovered::trouble`]. Ends when every receiver
/// is dropped.
pub async fn follow(
    prometheus: Prometheus,
    job: String,
    every: Duration,
) -> Result<watch::Receiver<Discovered>> {
    let first = targets(&prometheus, &job).await?;
    let (sender, receiver) = watch::channel(first);
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = sender.closed() => return,
            }
            let asked = targets(&prometheus, &job).await;
            sender.send_if_modified(|known| {
                let next = match asked {
                    Ok(found) => found,
                    Err(error) => Discovered {
                        trouble: Some(format!(
                            "{error:#}; keeping the last {} targets",
                            known.targets.len()
                        )),
                        ..known.clone()
                    },
                };
                let changed = *known != next;
                *known = next;
                changed
            });
        }
    });
    Ok(receiver)
}

fn check_job(job: &str) -> Result<()> {
    if job.is_empty() || job.len() > MAX_LABEL {
        bail!(
            "the job name must be 1 to {MAX_LABEL} bytes, not {}",
            job.len()
        );
    }
    Ok(())
}

/// One GET on a fresh connection; the body of a 200, else an error with
/// the status.
async fn get(prometheus: &Prometheus, path: &str) -> Result<Bytes> {
    let stream = TcpStream::connect(&prometheus.authority)
        .await
        .with_context(|| format!("cannot reach Prometheus at {prometheus}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .with_context(|| format!("{prometheus} does not speak HTTP"))?;
    tokio::spawn(connection);
    let request = Request::get(format!("{}{path}", prometheus.prefix))
        .header(header::HOST, &prometheus.authority)
        .header(header::ACCEPT, "application/json")
        .body(Empty::<Bytes>::new())
        .context("building the request")?;
    let response = sender
        .send_request(request)
        .await
        .with_context(|| format!("{prometheus} gave no HTTP answer"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "reading the answer of {prometheus} (at most {} MiB): {e}",
                MAX_ANSWER >> 20
            )
        })?
        .to_bytes();
    if status != StatusCode::OK {
        let start = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
        bail!(
            "{prometheus} answered HTTP {status}: {}",
            printable::text(&start)
        );
    }
    Ok(body)
}

/// The answer of `/api/v1/targets`, as far as it is read.
#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<Data>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    active_targets: Vec<Active>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Active {
    labels: std::collections::HashMap<String, String>,
    scrape_url: String,
}

/// A target found, its scrape address not yet resolved.
struct Found {
    name: String,
    address: String,
}

/// The job's targets in the answer, each with its `instance` and scrape
/// address; targets over a limit are left out, saying why.
fn parse(body: &[u8], job: &str) -> Result<(Vec<Found>, Vec<String>)> {
    let answer: Answer =
        serde_json::from_slice(body).context("the answer is not the targets API's JSON")?;
    if answer.status != "success" {
        let error = answer.error.unwrap_or_default();
        bail!(
            "the targets API says {}: {}",
            printable::text(&answer.status),
            printable::text(&error)
        );
    }
    let active = answer
        .data
        .context("the answer has no data")?
        .active_targets;
    let of_job: Vec<Active> = active
        .into_iter()
        .filter(|t| t.labels.get("job").map(String::as_str) == Some(job))
        .collect();
    if of_job.len() > MAX_TARGETS {
        bail!(
            "{} active targets of job {job}; at most {MAX_TARGETS} are followed",
            of_job.len()
        );
    }
    let (mut found, mut left_out) = (Vec::new(), Vec::new());
    for target in of_job {
        match found_in(&target) {
            Ok(target) => found.push(target),
            Err(why) => left_out.push(why),
        }
    }
    Ok((found, left_out))
}

/// A target's name and address, or why it cannot be followed.
fn found_in(target: &Active) -> Result<Found, String> {
    let address = scrape_address(&target.scrape_url)?;
    let name = target
        .labels
        .get("instance")
        .cloned()
        .unwrap_or_else(|| address.clone());
    if name.len() > MAX_LABEL {
        return Err(format!(
            "a target's instance label is {} bytes; at most {MAX_LABEL} are taken",
            name.len()
        ));
    }
    let name = printable::text(&name).into_owned();
    Ok(Found { name, address })
}

/// `HOST:PORT` of a scrape URL.
fn scrape_address(url: &str) -> Result<String, String> {
    let shown = || printable::text(&url[..url.len().min(MAX_LABEL)]).into_owned();
    if url.len() > MAX_URL {
        return Err(format!(
            "a scrape URL is {} bytes; at most {MAX_URL} are taken",
            url.len()
        ));
    }
    let uri: Uri = url
        .parse()
        .map_err(|_| format!("'{}' is not a scrape URL", shown()))?;
    let authority = uri
        .authority()
        .ok_or_else(|| format!("the scrape URL '{}' has no host", shown()))?;
    let default = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    Ok(format!(
        "{}:{}",
        authority.host(),
        authority.port_u16().unwrap_or(default)
    ))
}

/// Each address as an endpoint (host names resolved now, as Prometheus
/// resolves them at each scrape), sorted and one per name.
async fn resolve((found, mut left_out): (Vec<Found>, Vec<String>)) -> Discovered {
    let mut targets: Vec<Target> = Vec::with_capacity(found.len());
    for Found { name, address } in found {
        match endpoint(&address).await {
            Ok(connect) => targets.push(Target { name, connect }),
            Err(why) => left_out.push(format!("{name}: {why}")),
        }
    }
    targets.sort_by(|a, b| a.name.cmp(&b.name));
    targets.dedup_by(|a, b| a.name == b.name);
    Discovered {
        targets,
        left_out,
        trouble: None,
    }
}

async fn endpoint(address: &str) -> Result<Endpoint, String> {
    if let Ok(addr) = address.parse::<SocketAddr>() {
        return Ok(Endpoint::Tcp(addr));
    }
    let resolved = tokio::time::timeout(TIMEOUT, tokio::net::lookup_host(address)).await;
    match resolved {
        Ok(Ok(mut addrs)) => addrs
            .next()
            .map(Endpoint::Tcp)
            .ok_or_else(|| format!("{address} resolves to nothing")),
        Ok(Err(error)) => Err(format!("cannot resolve {address}: {error}")),
        Err(_) => Err(format!(
            "cannot resolve {address} within {}",
            humantime::format_duration(TIMEOUT)
        )),
    }
}

#[cfg(test)]
mod tests;
