//! The operator API admits only its operators, end to end: what a hostile
//! web page sends (a cross-site kick, a rebound Host) is refused with the
//! reason, and 200 healthy clients beside it never notice.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Bystanders, PATIENCE, RawClient, Serve, heartbeat, serve_command};
use serde_json::Value;

/// Sends one request (`Connection: close` is added) with these header
/// lines and body; returns the status and the JSON answer.
fn exchange(admin: &str, head: &str, headers: &[&str], body: &str) -> (u16, Value) {
    let mut stream = TcpStream::connect(admin).expect("connecting to the API");
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut request = format!("{head} HTTP/1.1\r\nconnection: close\r\n");
    for header in headers {
        request.push_str(&format!("{header}\r\n"));
    }
    request.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("an answer");
    let status = reply
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {reply}"));
    let body = reply.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {reply}"));
    (status, json)
}

fn error(answer: &Value) -> &str {
    answer["error"].as_str().unwrap_or_default()
}

/// A client the test may try to kick, heartbeating until dropped.
fn victim(serve: &mut Serve, pid: u32) -> common::Beater {
    let beater = common::Beater::over(
        RawClient::connect(serve.addr),
        pid,
        Duration::from_millis(50),
    );
    serve.wait_for_client(beater.local, |c| c["pid"] == pid);
    beater
}

#[test]
fn a_web_page_on_another_site_cannot_kick() {
    let mut serve = Serve::start(&["--tick", "100ms"]);
    let bystanders = Bystanders::join(&mut serve, 40_000);
    let admin = serve.admin.clone().unwrap();
    let host = format!("host: {admin}");
    let victim = victim(&mut serve, 7);
    let kick = format!(r#"{{"peer": "{}"}}"#, victim.local);
    let json = "content-type: application/json";
    let refused = [
        (
            vec![json, "origin: http://evil.example"],
            403,
            "Origin: http://evil.example",
        ),
        (vec![json, "origin: null"], 403, "Origin: null"),
        (
            vec![json, "sec-fetch-site: cross-site"],
            403,
            "Sec-Fetch-Site: cross-site",
        ),
        (
            vec![json, "sec-fetch-site: same-site"],
            403,
            "Sec-Fetch-Site: same-site",
        ),
        // The form a page can send anywhere without asking first.
        (vec!["content-type: text/plain"], 415, "'text/plain'"),
        (vec![], 415, "application/json"),
    ];
    for (headers, status, reason) in &refused {
        let headers: Vec<&str> = headers.iter().copied().chain([host.as_str()]).collect();
        for path in ["/v1/kick", "/v1/kick-leave"] {
            let (got, answer) = exchange(&admin, &format!("POST {path}"), &headers, &kick);
            assert_eq!(got, *status, "{path} with {headers:?}: {answer}");
            assert!(
                error(&answer).contains(reason),
                "{path} with {headers:?}: {answer}"
            );
        }
    }
    assert!(
        serve.client(victim.local).is_some(),
        "no refused kick closed the victim"
    );
    // The operator's own request, from the API's own origin, still works.
    let origin = format!("origin: http://{admin}");
    let own = [
        json,
        host.as_str(),
        origin.as_str(),
        "sec-fetch-site: same-origin",
    ];
    let (status, answer) = exchange(&admin, "POST /v1/kick", &own, &kick);
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["kicked"][0], victim.local.to_string());
    let (status, answer) = exchange(&admin, "POST /v1/kick-leave", &[json, host.as_str()], "");
    assert_eq!((status, &answer["kicked"]), (200, &serde_json::json!([])));
    bystanders.assert_undisturbed(&mut serve);
}

#[test]
fn a_request_must_name_the_api_in_its_host() {
    let mut serve = Serve::start(&["--admin-host", "hbmon.example,Ops.Example"]);
    let bystanders = Bystanders::join(&mut serve, 41_000);
    let admin = serve.admin.clone().unwrap();
    let port = admin.rsplit(':').next().unwrap().to_owned();
    for path in ["/v1/clients", "/healthz", "/metrics", "/nowhere"] {
        for host in ["evil.example", "evil.example:80", "localhost.evil.example"] {
            let (status, answer) = exchange(
                &admin,
                &format!("GET {path}"),
                &[&format!("host: {host}")],
                "",
            );
            assert_eq!(status, 421, "{path} for {host}: {answer}");
            assert!(
                error(&answer).contains(&format!("Host '{host}' does not name this API")),
                "{answer}"
            );
            assert!(error(&answer).contains("--admin-host"), "{answer}");
        }
    }
    let (status, answer) = exchange(&admin, "GET /v1/clients", &[], "");
    assert_eq!(status, 421, "no Host at all: {answer}");
    assert!(error(&answer).contains("no Host header"), "{answer}");
    for host in [
        admin.clone(),
        format!("localhost:{port}"),
        "localhost".to_owned(),
        format!("[::1]:{port}"),
        format!("127.0.0.1:{port}"),
        "hbmon.example".to_owned(),
        format!("OPS.example:{port}"),
    ] {
        let (status, answer) = exchange(&admin, "GET /v1/clients", &[&format!("host: {host}")], "");
        assert_eq!(status, 200, "{host}: {answer}");
        assert_eq!(answer["total"], Bystanders::COUNT, "{host}: {answer}");
    }
    bystanders.assert_undisturbed(&mut serve);
}

#[test]
fn a_wrong_token_is_told_apart_from_a_missing_one_and_bearer_is_any_case() {
    let mut serve = Serve::launch(serve_command().env("HBMON_ADMIN_TOKEN", "s3cret"));
    let bystanders = Bystanders::join(&mut serve, 42_000);
    let admin = serve.admin.clone().unwrap();
    let host = format!("host: {admin}");
    let ask = |authorization: Option<&str>| {
        let headers: Vec<&str> = [host.as_str()].into_iter().chain(authorization).collect();
        exchange(&admin, "GET /v1/clients?limit=1", &headers, "")
    };
    let (status, missing) = ask(None);
    assert_eq!(status, 401);
    assert!(
        error(&missing).contains("needs the admin token"),
        "{missing}"
    );
    let (status, wrong) = ask(Some("authorization: Bearer s3creT"));
    assert_eq!(status, 401);
    assert!(error(&wrong).contains("token given is wrong"), "{wrong}");
    let (status, basic) = ask(Some("authorization: Basic czNjcmV0"));
    assert_eq!(status, 401);
    assert!(error(&basic).contains("Bearer scheme"), "{basic}");
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let (status, answer) = ask(Some(&format!("authorization: {scheme} s3cret")));
        assert_eq!(status, 200, "{scheme}: {answer}");
    }
    bystanders.assert_undisturbed(&mut serve);
}

#[test]
fn a_query_that_is_not_utf8_is_a_400_naming_it() {
    let mut serve = Serve::plain();
    let bystanders = Bystanders::join(&mut serve, 43_000);
    let admin = serve.admin.clone().unwrap();
    let host = format!("host: {admin}");
    for query in ["filter=%ff%fe", "%c3=1", "sort=%80"] {
        let (status, answer) = exchange(&admin, &format!("GET /v1/clients?{query}"), &[&host], "");
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(error(&answer).contains("not UTF-8"), "{query}: {answer}");
    }
    // What decodes is still read: a space as + or %20, and UTF-8 escapes.
    for query in [
        "filter=127.0.0.1",
        "filter=%31%32%37",
        "filter=alive+",
        "filter=%C3%A9",
    ] {
        let (status, answer) = exchange(&admin, &format!("GET /v1/clients?{query}"), &[&host], "");
        assert_eq!(status, 200, "{query}: {answer}");
    }
    // A heartbeat still counts beside it.
    let mut client = RawClient::connect(serve.addr);
    client.send(&heartbeat(9));
    serve.wait_for_client(client.local, |c| c["pid"] == 9);
    bystanders.assert_undisturbed(&mut serve);
}
