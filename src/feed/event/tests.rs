use super::*;

#[test]
fn a_clock_beyond_what_rfc3339_can_write_is_clamped_not_a_panic() {
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(LAST_WRITABLE_SECOND * 2);
    assert_eq!(rfc3339(far), "9999-12-31T23:59:59.000Z");
    let before = SystemTime::UNIX_EPOCH - Duration::from_secs(1);
    assert_eq!(rfc3339(before), "1970-01-01T00:00:00.000Z");
}

#[test]
fn every_event_reads_back_from_its_own_json_line() {
    let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let kinds = [
        EventKind::Connected {
            peer,
            identity: None,
        },
        EventKind::Connected {
            peer,
            identity: Some("worker-3.fleet.test".into()),
        },
        EventKind::Status {
            peer,
            pid: Some(7),
            from: Status::Alive,
            to: Status::Leave,
            miss: 0,
            strikes: 3,
        },
        EventKind::Closed {
            peer,
            pid: None,
            ip: Some("10.0.0.7".into()),
            identity: Some("web-7.prod".into()),
            status: Status::Alive,
            reason: "client disconnected".into(),
        },
        EventKind::Rejected {
            peer,
            reason: "server full".into(),
            count: 3,
        },
        EventKind::BadFrame {
            peer,
            reason: "empty frame (length 0)".into(),
        },
        EventKind::Kick {
            peer,
            pid: Some(7),
            by: "stdin".into(),
        },
        EventKind::Started {
            listen: peer,
            version: "0.1.0".into(),
            warnings: vec![],
        },
        EventKind::Started {
            listen: peer,
            version: "0.1.0".into(),
            warnings: vec!["the token crosses the network in clear".into()],
        },
        EventKind::Stopped {
            listen: peer,
            error: None,
        },
        EventKind::Stopped {
            listen: peer,
            error: Some("internal error: boom".into()),
        },
        EventKind::FleetSilent {
            fraction: 0.75,
            silent: 75,
            clients: 100,
            tick: 12,
        },
        EventKind::FleetRecovered {
            fraction: 0.0,
            silent: 0,
            clients: 100,
            tick: 40,
        },
    ];
    kinds
        .into_iter()
        .chain(maintenance(peer))
        .for_each(reads_back);
}

#[test]
fn tls_events_read_back_with_and_without_a_peer() {
    let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let tls = |cause: &str, peer, count| EventKind::Tls {
        cause: cause.into(),
        peer,
        reason: "why".into(),
        count,
    };
    reads_back(tls("plaintext", Some(peer), 2));
    reads_back(tls("reloaded", None, 1));
    assert_eq!(
        tls("plaintext", Some(peer), 1).to_string(),
        "10.0.0.1:5000 tls: why"
    );
    assert_eq!(
        tls("protocol", None, 40).to_string(),
        "tls: why (40 protocol in the last second)"
    );
}

/// The event's JSON line reads back as the same event, named as it says.
fn reads_back(kind: EventKind) {
    let line = serde_json::to_string(&Stamped {
        ts: rfc3339(SystemTime::UNIX_EPOCH),
        body: &kind,
    })
    .unwrap();
    let back: Recorded = serde_json::from_str(&line).unwrap();
    assert_eq!(back.kind, kind, "{line}");
    assert!(line.contains(&format!("\"event\":\"{}\"", kind.name())));
    assert!(EVENT_NAMES.contains(&kind.name()));
}

/// A window's start, and its end on time and early.
fn maintenance(peer: SocketAddr) -> [EventKind; 3] {
    let ended = |by: Option<&str>| EventKind::MaintenanceEnded {
        peer,
        ip: "10.0.0.7".into(),
        pid: 7,
        by: by.map(str::to_owned),
    };
    let started = EventKind::MaintenanceStarted {
        peer,
        ip: "10.0.0.7".into(),
        pid: 7,
        until: rfc3339(SystemTime::UNIX_EPOCH),
        by: "api".into(),
    };
    [started, ended(None), ended(Some("stdin"))]
}

#[test]
fn maintenance_events_say_whom_until_when_and_who_ended_them() {
    let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let text: Vec<String> = maintenance(peer).iter().map(ToString::to_string).collect();
    assert_eq!(
        text,
        [
            "10.0.0.1:5000 (pid 7) in maintenance until 1970-01-01T00:00:00.000Z (from api)",
            "10.0.0.1:5000 (pid 7) maintenance ended: the window ran out",
            "10.0.0.1:5000 (pid 7) maintenance ended early from stdin",
        ]
    );
}

#[test]
fn text_says_who_and_what_without_repeating_the_status() {
    let peer: SocketAddr = "10.0.0.1:5000".parse().unwrap();
    let closed = |status| EventKind::Closed {
        peer,
        pid: Some(7),
        ip: None,
        identity: None,
        status,
        reason: "kicked by operator".into(),
    };
    assert_eq!(
        closed(Status::Close).to_string(),
        "10.0.0.1:5000 (pid 7) closed: kicked by operator"
    );
    assert_eq!(
        closed(Status::Leave).to_string(),
        "10.0.0.1:5000 (pid 7) closed while leave: kicked by operator"
    );
    assert_eq!(
        EventKind::Connected {
            peer,
            identity: None
        }
        .to_string(),
        "10.0.0.1:5000 connected"
    );
    let proved = EventKind::Connected {
        peer,
        identity: Some("worker-3.fleet.test".into()),
    };
    assert_eq!(
        proved.to_string(),
        "10.0.0.1:5000 connected (identity worker-3.fleet.test)"
    );
}
