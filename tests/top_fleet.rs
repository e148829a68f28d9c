//! `hbmon top` over three real servers in a real pseudo-terminal (tmux):
//! the servers screen, one table with a server column, a filter across
//! servers, a kick that reaches the server holding the client, marks on two
//! servers confirmed at once, and a server killed (its rows kept, dimmed;
//! the others live) then restarted on its port (followed again).

mod common;

use std::time::Duration;

use common::tmux::Tmux;
use common::{Beater, Serve};

const BEAT: Duration = Duration::from_millis(50);

fn serve(admin: &str) -> Serve {
    Serve::start(&["--admin", admin, "--tick", "100ms"])
}

/// The screen with its colors and attributes, as escape sequences.
fn styled(tmux: &Tmux) -> String {
    tmux.run(&["capture-pane", "-p", "-e", "-t", "main"])
}

/// Whether the table row of the client at `peer` is dim up to its address
/// (the `next` column is dim on every row).
fn dimmed(styled: &str, peer: &str) -> bool {
    let row = styled.lines().find(|l| l.contains(peer) && l.contains('│'));
    row.is_some_and(|row| row[..row.find(peer).unwrap_or(0)].contains("\u{1b}[2m"))
}

/// The line of `text` that holds `what`.
fn line_of<'a>(text: &'a str, what: &str) -> &'a str {
    text.lines().find(|l| l.contains(what)).unwrap_or("")
}

#[test]
fn top_watches_three_servers_in_one_table_and_kicks_each_client_on_its_own() {
    let mut east = serve("127.0.0.1:0");
    let mut west = serve("127.0.0.1:0");
    let mut north = serve("127.0.0.1:0");
    let east_admin = east.admin.clone().expect("east's API");
    let e1 = Beater::start(east.addr, 511, BEAT);
    let e2 = Beater::start(east.addr, 512, BEAT);
    let w1 = Beater::start(west.addr, 521, BEAT);
    let w2 = Beater::start(west.addr, 522, BEAT);
    let n1 = Beater::start(north.addr, 531, BEAT);

    let binary = env!("CARGO_BIN_EXE_hbmon");
    let connect = |name: &str, serve: &Serve| {
        format!("--connect {name}={}", serve.admin.as_deref().unwrap_or(""))
    };
    let command = format!(
        "{binary} top {} {} {}",
        connect("east", &east),
        connect("west", &west),
        connect("north", &north)
    );
    let tmux = Tmux::start(&command, 160, 40);

    // The servers screen comes first, every server connected.
    // Each says which hbmon it runs.
    let version = env!("CARGO_PKG_VERSION");
    let screen = tmux.wait_for("three servers connected", |s| {
        s.contains("3/3 servers") && s.matches(version).count() >= 3
    });
    for name in ["east", "west", "north"] {
        let row = line_of(&screen, &format!("│{name} "));
        assert!(
            row.contains("connected") && row.contains(version),
            "{screen}"
        );
    }

    // Tab: one table over all three, each row naming its server.
    tmux.keys("Tab");
    let clients = [&e1, &e2, &w1, &w2, &n1];
    let screen = tmux.wait_for("every client", |s| {
        s.contains("server") && clients.iter().all(|c| s.contains(&c.local.to_string()))
    });
    assert!(
        line_of(&screen, &w2.local.to_string()).contains("west"),
        "{screen}"
    );
    assert!(
        line_of(&screen, &n1.local.to_string()).contains("north"),
        "{screen}"
    );

    // The filter matches a server's name: only west's clients.
    tmux.keys("/");
    tmux.keys("west");
    tmux.keys("Enter");
    tmux.wait_for("only west's clients", |s| {
        s.contains("clients 1-2 of 2") && line_of(s, &w1.local.to_string()).contains("west")
    });

    // d kicks the selected client on west, the server that holds it.
    tmux.keys("j");
    tmux.keys("d");
    let question = format!("Kick {} (pid 522)?", w2.local);
    tmux.wait_for("the question", |s| s.contains(&question));
    tmux.keys("y");
    let mut kicked = w2.stop();
    assert_eq!(kicked.expect_closed(), "kicked by operator");
    let closed = west.wait_for_peer("closed", kicked.local);
    assert!(closed.to_string().contains("kicked"), "{closed}");
    tmux.wait_for("the kick's outcome", |s| {
        s.contains(&format!("kicked {}", kicked.local))
    });

    // Marks on east and north, in one question.
    tmux.keys("Escape");
    tmux.wait_for("the filter cleared", |s| s.contains("clients 1-4 of 4"));
    tmux.keys("g");
    tmux.keys("Space");
    tmux.keys("G");
    tmux.keys("Space");
    tmux.keys("d");
    tmux.wait_for("one question for two servers", |s| {
        s.contains("Kick 2 clients on 2 servers?")
    });
    tmux.keys("y");
    let (mut e1, mut n1) = (e1.stop(), n1.stop());
    assert_eq!(e1.expect_closed(), "kicked by operator");
    assert_eq!(n1.expect_closed(), "kicked by operator");
    east.wait_for_peer("closed", e1.local);
    north.wait_for_peer("closed", n1.local);
    tmux.wait_for("each server's answer", |s| {
        s.contains(&format!("east: kicked {}", e1.local))
            && s.contains(&format!("north: kicked {}", n1.local))
    });

    // East dies: its last rows stay, dimmed; the others go on.
    east.kill_hard();
    tmux.wait_for("east lost", |s| s.contains("2/3 servers"));
    let shown = styled(&tmux);
    assert!(
        dimmed(&shown, &e2.local.to_string()),
        "east's row is dimmed:\n{shown}"
    );
    assert!(
        !dimmed(&shown, &w1.local.to_string()),
        "west's is not:\n{shown}"
    );
    let w3 = Beater::start(west.addr, 523, BEAT);
    tmux.wait_for("a new client on west", |s| {
        s.contains(&w3.local.to_string())
    });
    tmux.keys("g");
    tmux.keys("d");
    tmux.wait_for("why east cannot be kicked", |s| {
        s.contains("east is disconnected")
    });

    // East comes back on the same port: followed again.
    let east = serve(&east_admin);
    let e3 = Beater::start(east.addr, 513, BEAT);
    tmux.wait_for("east followed again", |s| {
        s.contains("3/3 servers") && s.contains(&e3.local.to_string())
    });
    tmux.keys("q");
    drop((w1, w3, e3));
}
