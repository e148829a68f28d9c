use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;

fn target(job: &str, instance: &str, scrape: &str) -> serde_json::Value {
    json!({
        "discoveredLabels": {"__address__": scrape},
        "labels": {"instance": instance, "job": job},
        "scrapePool": job,
        "scrapeUrl": format!("http://{scrape}/metrics"),
        "health": "up",
    })
}

fn answer(targets: Vec<serde_json::Value>) -> Vec<u8> {
    let body =
        json!({"status": "success", "data": {"activeTargets": targets, "droppedTargets": []}});
    body.to_string().into_bytes()
}

fn names(found: &[Found]) -> Vec<(&str, &str)> {
    found
        .iter()
        .map(|f| (f.name.as_str(), f.address.as_str()))
        .collect()
}

#[test]
fn the_job_s_targets_are_named_by_instance_and_reached_at_their_scrape_address() {
    let body = answer(vec![
        target("hbmon", "a", "10.0.0.5:14001"),
        target("node", "n", "10.0.0.5:9100"),
        target("hbmon", "10.0.0.6:14001", "10.0.0.6:14001"),
    ]);
    let (found, left_out) = parse(&body, "hbmon").unwrap();
    assert_eq!(
        names(&found),
        [
            ("a", "10.0.0.5:14001"),
            ("10.0.0.6:14001", "10.0.0.6:14001")
        ]
    );
    assert!(left_out.is_empty());
    let (other, _) = parse(&body, "node").unwrap();
    assert_eq!(names(&other), [("n", "10.0.0.5:9100")]);
}

#[test]
fn a_broken_or_hostile_answer_is_an_error_naming_what_was_wrong() {
    let error = |body: &[u8]| format!("{:#}", parse(body, "hbmon").err().unwrap());
    assert!(
        error(b"<html>").contains("not the targets API's JSON"),
        "{}",
        error(b"<html>")
    );
    let refused = json!({"status": "error", "error": "bad\u{1b}[2J"}).to_string();
    assert_eq!(
        error(refused.as_bytes()),
        "the targets API says error: bad\\u{1b}[2J"
    );
    assert!(error(br#"{"status":"success"}"#).contains("no data"));
    let many = answer(
        (0..=MAX_TARGETS)
            .map(|i| target("hbmon", &i.to_string(), "10.0.0.1:1"))
            .collect(),
    );
    assert_eq!(
        error(&many),
        "1001 active targets of job hbmon; at most 1000 are followed"
    );
}

#[test]
fn a_target_over_a_limit_is_left_out_saying_why_and_the_others_kept() {
    let long = "x".repeat(MAX_LABEL + 1);
    let mut hostless = target("hbmon", "h", "ignored");
    hostless["scrapeUrl"] = json!("/metrics");
    let body = answer(vec![
        target("hbmon", &long, "10.0.0.1:1"),
        hostless,
        target("hbmon", "ok\u{7}", "10.0.0.2:2"),
    ]);
    let (found, left_out) = parse(&body, "hbmon").unwrap();
    assert_eq!(
        names(&found),
        [("ok\\u{7}", "10.0.0.2:2")],
        "names are made printable"
    );
    assert_eq!(
        left_out,
        [
            "a target's instance label is 257 bytes; at most 256 are taken",
            "the scrape URL '/metrics' has no host"
        ]
    );
}

#[test]
fn the_prometheus_url_is_http_with_an_optional_path_prefix() {
    let parsed: Prometheus = "http://10.0.0.9:9090/prometheus/".parse().unwrap();
    assert_eq!(parsed.to_string(), "http://10.0.0.9:9090/prometheus");
    let bare: Prometheus = "http://prom".parse().unwrap();
    assert_eq!(bare.to_string(), "http://prom:80");
    let error = |url: &str| url.parse::<Prometheus>().unwrap_err().to_string();
    assert!(error("https://prom:9090").contains("'https' URLs are not supported"));
    assert!(
        error("prom:9090").contains("(write http://HOST:PORT)"),
        "{}",
        error("prom:9090")
    );
    assert!(error(&format!("http://{}", "p".repeat(MAX_URL))).contains("at most 2048"));
    assert!(check_job("").is_err() && check_job(&"j".repeat(MAX_LABEL + 1)).is_err());
}

#[tokio::test]
async fn names_resolve_and_each_name_is_followed_once() {
    let found = vec![
        Found {
            name: "b".into(),
            address: "127.0.0.1:2".into(),
        },
        Found {
            name: "a".into(),
            address: "localhost:1".into(),
        },
        Found {
            name: "b".into(),
            address: "127.0.0.1:3".into(),
        },
        Found {
            name: "c".into(),
            address: "no-such-host.invalid:1".into(),
        },
    ];
    let discovered = resolve((found, Vec::new())).await;
    let named: Vec<&str> = discovered.targets.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(named, ["a", "b"]);
    assert_eq!(
        discovered.targets[1].connect,
        Endpoint::Tcp("127.0.0.1:2".parse().unwrap())
    );
    assert!(
        discovered.left_out[0].starts_with("c: cannot resolve no-such-host.invalid:1"),
        "{:?}",
        discovered.left_out
    );
}

/// A Prometheus stand-in that answers `answers` requests with `body`, then
/// goes away.
async fn fake(body: Vec<u8>, answers: usize) -> Prometheus {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        for _ in 0..answers {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut request = vec![0; 4096];
            let _ = stream.read(&mut request).await;
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            // The client may hang up on an answer over its limit.
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&body).await;
        }
    });
    url.parse().unwrap()
}

#[tokio::test]
async fn follow_keeps_the_last_targets_when_prometheus_goes_away_and_says_so() {
    let prometheus = fake(answer(vec![target("hbmon", "a", "127.0.0.1:14001")]), 1).await;
    let mut followed = follow(prometheus, "hbmon".into(), Duration::from_millis(20))
        .await
        .unwrap();
    assert_eq!(followed.borrow().targets.len(), 1);
    let troubled = followed
        .wait_for(|d| d.trouble.is_some())
        .await
        .unwrap()
        .clone();
    assert_eq!(
        troubled.targets,
        [Target {
            name: "a".into(),
            connect: Endpoint::Tcp("127.0.0.1:14001".parse().unwrap())
        }]
    );
    let trouble = troubled.trouble.unwrap();
    assert!(
        trouble.starts_with("cannot reach Prometheus at http://127.0.0.1:"),
        "{trouble}"
    );
    assert!(
        trouble.ends_with("; keeping the last 1 targets"),
        "{trouble}"
    );
}

#[tokio::test]
async fn an_answer_over_the_size_limit_is_an_error() {
    let prometheus = fake(vec![b' '; MAX_ANSWER + 1], 1).await;
    let error = format!("{:#}", targets(&prometheus, "hbmon").await.unwrap_err());
    assert!(error.contains("(at most 8 MiB)"), "{error}");
}
