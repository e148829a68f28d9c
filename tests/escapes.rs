//! Text from peers never reaches a terminal raw: what a hostile peer sends
//! (an escape sequence in its status or ip, quoted back by an error) is
//! shown escaped by `serve --format text` and by `hbmon history`, and 200
//! healthy clients beside it never notice.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use common::http::{get, post};
use common::{Bystanders, PATIENCE, RawClient, Serve, frame, hbmon, temp};

/// The window-title escape of the issue, a C1 CSI, and a bidi override.
const HOSTILE_STATUS: &str = r#""\u001b]0;PWNED\u0007\u009b2J\u202e""#;
/// What a terminal could act on: ESC, BEL, CSI (UTF-8), RLO (UTF-8).
const RAW: [&[u8]; 4] = [b"\x1b", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae"];

fn raw_controls(bytes: &[u8]) -> Vec<&'static [u8]> {
    RAW.into_iter()
        .filter(|c| bytes.windows(c.len()).any(|w| w == *c))
        .collect()
}

/// `hbmon serve --no-tui --format text`, its stdout read as raw bytes, a
/// line at a time, as a terminal would get them.
struct TextServe {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Vec<u8>>,
    seen: Vec<Vec<u8>>,
    addr: SocketAddr,
}

impl TextServe {
    fn start(args: &[&str]) -> TextServe {
        let mut child = hbmon()
            .args(["serve", "--no-tui", "--format", "text"])
            .args(["--listen", "127.0.0.1:0", "--stats-every", "1h"])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take().unwrap();
        let mut serve = TextServe {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        let listening = serve.wait_for("listening on ");
        let addr = listening.split("listening on ").nth(1).unwrap();
        serve.addr = addr.split(',').next().unwrap().parse().unwrap();
        serve
    }

    /// The next line that contains `text`, lossily decoded.
    fn wait_for(&mut self, text: &str) -> String {
        loop {
            let line = self.next();
            if line.contains(text) {
                return line;
            }
        }
    }

    /// The next line, lossily decoded.
    fn next(&mut self) -> String {
        let line = self
            .lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|_| panic!("no line within {PATIENCE:?}; seen: {:#?}", self.printed()));
        self.seen.push(line.clone());
        String::from_utf8_lossy(&line).into_owned()
    }

    fn command(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// The rows of a `list` (text form): one per live client.
    fn list(&mut self) -> Vec<String> {
        self.command("list");
        let head = self.wait_for(" live client");
        let count: usize = match head.split_whitespace().nth(1).unwrap() {
            "no" => 0,
            n => n.parse().unwrap(),
        };
        // A listing is written whole: its rows follow its head.
        (0..count).map(|_| self.next()).collect()
    }

    fn printed(&self) -> Vec<String> {
        let text = |l: &Vec<u8>| String::from_utf8_lossy(l).into_owned();
        self.seen.iter().map(text).collect()
    }
}

impl Drop for TextServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// 200 steady clients with the token, pids from 90000: the `Bystanders` of
/// the other hostile tests, over the text stream (which has no JSON lines
/// for `common::Bystanders` to read) and carrying the server's token.
fn bystanders(serve: &mut TextServe, token_file: &str) -> Child {
    let fleet = hbmon()
        .args([
            "simulate",
            "--server",
            &serve.addr.to_string(),
            "--every",
            "0",
        ])
        .args([
            "--clients",
            "200",
            "--interval",
            "50ms",
            "--mix",
            "steady=1",
        ])
        .args(["--pid-base", "90000", "--token-file", token_file])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + PATIENCE;
    while bystanders_alive(&serve.list()) < 200 {
        assert!(Instant::now() < deadline, "the bystanders never all joined");
        std::thread::sleep(Duration::from_millis(100));
    }
    fleet
}

fn bystanders_alive(rows: &[String]) -> usize {
    rows.iter()
        .filter(|r| r.contains(" alive ip ") && r.contains(" pid 90"))
        .filter(|r| !r.ends_with("heartbeats 0") && !r.ends_with("heartbeats 1"))
        .count()
}

#[test]
fn escapes_from_a_peer_reach_neither_the_text_stream_nor_the_history_table() {
    let token_file = temp("escapes-token");
    std::fs::write(&token_file, "s3cret\n").unwrap();
    let token_arg = token_file.to_str().unwrap();
    let journal = temp("escapes-journal");
    let journal_arg = journal.to_str().unwrap();
    let mut serve = TextServe::start(&["--token-file", token_arg, "--journal", journal_arg]);
    let mut fleet = bystanders(&mut serve, token_arg);

    // No token, a status that is an escape sequence: the error quotes it.
    let mut quoted = RawClient::connect(serve.addr);
    let body = format!(r#"{{"ip":"x","status":{HOSTILE_STATUS},"pid":1}}"#);
    quoted.send(&frame(body.as_bytes()));
    quoted.expect_closed();
    let bad = serve.wait_for(&format!("{} sent a bad frame", quoted.local));
    assert!(
        bad.contains(r"\u{1b}]0;PWNED\u{7}\u{9b}2J\u{202e}"),
        "{bad}"
    );
    // The token, and an ip that clears the screen: shown by `list`.
    let mut listed = RawClient::connect(serve.addr);
    let hello = r#"{"ip":"\u001b[2J\n","status":"alive","pid":2,"token":"s3cret"}"#;
    listed.send(&frame(hello.as_bytes()));
    let deadline = Instant::now() + PATIENCE;
    let row = loop {
        let peer = listed.local.to_string();
        if let Some(row) = serve.list().into_iter().find(|r| r.contains(&peer)) {
            break row;
        }
        assert!(Instant::now() < deadline, "the client never listed");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(row.contains(r"ip \u{1b}[2J\u{a} pid 2"), "{row}");

    let rows = serve.list();
    assert_eq!(bystanders_alive(&rows), 200, "bystanders not all alive");
    let troubled: Vec<String> = (serve.printed().into_iter())
        .filter(|l| l.contains("(pid 90"))
        .collect();
    assert!(
        troubled.is_empty(),
        "bystanders were disturbed: {troubled:#?}"
    );
    let _ = fleet.kill();
    let _ = fleet.wait();
    serve.command("quit");
    serve.wait_for("stopped");
    for line in &serve.seen {
        let raw = raw_controls(line);
        assert!(
            raw.is_empty(),
            "raw {raw:?} in {:?}",
            String::from_utf8_lossy(line)
        );
    }

    let table = hbmon().args(["history", journal_arg]).output().unwrap();
    assert!(table.status.success());
    assert_eq!(raw_controls(&table.stdout), Vec::<&[u8]>::new());
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains(r"PWNED\u{7}"), "{table}");
    let json = hbmon()
        .args(["history", journal_arg, "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(raw_controls(&json.stdout), Vec::<&[u8]>::new());
    let first_bad = String::from_utf8(json.stdout).unwrap();
    let first_bad = first_bad.lines().find(|l| l.contains("bad_frame")).unwrap();
    let reason = serde_json::from_str::<serde_json::Value>(first_bad).unwrap()["reason"].clone();
    assert!(
        reason
            .as_str()
            .unwrap()
            .contains("\u{1b}]0;PWNED\u{7}\u{9b}2J\u{202e}"),
        "a program reading the JSON still gets what was sent: {reason}"
    );
    std::fs::remove_file(&journal).unwrap();
    std::fs::remove_file(&token_file).unwrap();
}

/// The API's answers reach a terminal too (curl prints them as they come):
/// no C1 or bidi character a client reported is in their bytes, and the
/// JSON still decodes to exactly what was reported.
#[test]
fn api_answers_carry_no_raw_controls_and_decode_to_what_was_reported() {
    let mut serve = Serve::plain();
    let bystanders = Bystanders::join(&mut serve, 91_000);
    let ip = "10.0.0.1\u{9b}31m\u{202e}evil";
    let mut client = RawClient::connect(serve.addr);
    let hello = serde_json::json!({"ip": ip, "status": "alive", "pid": 7});
    client.send(&frame(hello.to_string().as_bytes()));
    let peer = client.local;
    serve.wait_for_client(peer, |c| c["ip"] == ip);

    let listed = get(&serve, &format!("/v1/clients?filter={}", peer.port()));
    assert_eq!(raw_controls(listed.body.as_bytes()), Vec::<&[u8]>::new());
    assert_eq!(listed.json()["clients"][0]["ip"], ip, "{}", listed.body);
    let details = get(&serve, &format!("/v1/clients/{peer}"));
    assert_eq!(raw_controls(details.body.as_bytes()), Vec::<&[u8]>::new());
    assert_eq!(details.json()["ip"], ip, "{}", details.body);
    // An error that quotes what was asked for.
    let refused = post(
        &serve,
        "/v1/kick",
        r#"{"peer": "\u202e\u001b]0;PWNED\u0007\u009b31m"}"#,
    );
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(raw_controls(refused.body.as_bytes()), Vec::<&[u8]>::new());
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap()
            .contains("\u{202e}")
    );
    bystanders.assert_undisturbed(&mut serve);
}
