//! Which hbmon a server runs, as its `/metrics` says (`hbmon_build_info`),
//! asked each time its feed is opened: the servers screen shows it, so a
//! fleet halfway through an upgrade is seen as one.

use std::sync::Arc;

use hyper::{Method, StatusCode};
use tokio::sync::watch;

use super::http::Api;

/// The longest version taken.
const MAX_VERSION: usize = 32;

/// Asks `api` for its version and says it on `version`; says nothing when
/// the server does not tell (an older one, a failed request).
pub async fn ask(api: Api, version: Arc<watch::Sender<Option<Arc<str>>>>) {
    let Ok((StatusCode::OK, body)) = api.answer(Method::GET, "/metrics", None).await else {
        return;
    };
    if let Some(found) = std::str::from_utf8(&body).ok().and_then(parse) {
        version.send_replace(Some(Arc::from(found)));
    }
}

/// The version in a `/metrics` text, if it holds a sane one.
fn parse(metrics: &str) -> Option<&str> {
    let line = metrics
        .lines()
        .find(|l| l.starts_with("hbmon_build_info{"))?;
    let version = line.split_once("version=\"")?.1.split_once('"')?.0;
    let sane = |c: char| c.is_ascii_alphanumeric() || ".-+_".contains(c);
    let ok = !version.is_empty() && version.len() <= MAX_VERSION && version.chars().all(sane);
    ok.then_some(version)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_version_is_read_from_build_info_and_nothing_odd_is_taken() {
        let metrics =
            "# HELP x\nhbmon_clients{status=\"alive\"} 3\nhbmon_build_info{version=\"0.1.0\"} 1\n";
        assert_eq!(parse(metrics), Some("0.1.0"));
        assert_eq!(parse("hbmon_build_info{version=\"\u{1b}[31m\"} 1"), None);
        assert_eq!(
            parse(&format!(
                "hbmon_build_info{{version=\"{}\"}} 1",
                "9".repeat(40)
            )),
            None
        );
        assert_eq!(parse("hbmon_clients 1"), None);
    }
}
