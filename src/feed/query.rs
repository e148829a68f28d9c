//! Choosing and ordering live clients: the filter and the sort orders that
//! the dashboard and `GET /v1/clients` share, so the two cannot disagree
//! about what `/kick` or "sorted by beats" means.

use std::fmt::Write;
use std::net::SocketAddr;
use std::str::FromStr;

use crate::feed::snapshot::ClientView;
use crate::protocol::Status;

/// An order for the live clients. Ties keep the order they connected in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    /// The order clients connected in (the snapshot's own order).
    Connected,
    Peer,
    Pid,
    Status,
    Miss,
    Strikes,
    Beats,
    LastSeen,
    Reconnects,
    Flaps,
}

impl Sort {
    pub const ALL: [Sort; 10] = [
        Sort::Connected,
        Sort::Peer,
        Sort::Pid,
        Sort::Status,
        Sort::Miss,
        Sort::Strikes,
        Sort::Beats,
        Sort::LastSeen,
        Sort::Reconnects,
        Sort::Flaps,
    ];

    /// The order after this one: what the dashboard's `s` moves to, so it
    /// offers every order the API takes, in the same list.
    pub fn next(self) -> Sort {
        let i = Sort::ALL.iter().position(|&s| s == self).unwrap_or(0);
        Sort::ALL[(i + 1) % Sort::ALL.len()]
    }

    /// How a query string spells it.
    pub fn name(self) -> &'static str {
        match self {
            Sort::Connected => "connected",
            Sort::Peer => "peer",
            Sort::Pid => "pid",
            Sort::Status => "status",
            Sort::Miss => "miss",
            Sort::Strikes => "strikes",
            Sort::Beats => "beats",
            Sort::LastSeen => "last_seen",
            Sort::Reconnects => "reconnects",
            Sort::Flaps => "flaps",
        }
    }
}

impl FromStr for Sort {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Sort::ALL
            .into_iter()
            .find(|s| s.name() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Sort::ALL.iter().map(|s| s.name()).collect();
                format!("'{text}' is not a sort order (one of {})", names.join(", "))
            })
    }
}

/// Orders `rows` (indices into `clients`) by `by`; a stable sort.
pub fn sort(rows: &mut [usize], clients: &[ClientView], by: Sort) {
    sort_by(rows, by, |&i| &clients[i]);
}

/// Orders `rows` by `by`, each row's client found by `client`: rows of any
/// kind (several servers' clients in one table), one order for all.
pub fn sort_by<'c, T>(rows: &mut [T], by: Sort, client: impl Fn(&T) -> &'c ClientView) {
    match by {
        Sort::Connected => {}
        Sort::Peer => rows.sort_by_key(|r| client(r).peer),
        Sort::Pid => rows.sort_by_key(|r| client(r).pid),
        Sort::Status => rows.sort_by_key(|r| client(r).status() as u8),
        Sort::Miss => rows.sort_by_key(|r| client(r).liveness.miss),
        Sort::Strikes => rows.sort_by_key(|r| client(r).liveness.strikes),
        Sort::Beats => rows.sort_by_key(|r| client(r).heartbeats),
        Sort::LastSeen => rows.sort_by_key(|r| client(r).last_seen),
        Sort::Reconnects => rows.sort_by_key(|r| client(r).reconnects),
        Sort::Flaps => rows.sort_by_key(|r| client(r).flaps),
    }
}

/// Case-insensitive substring match over what a row shows: `ip:port`,
/// reported ip, pid, status and certificate identity (and a closed client's
/// reason, an event's text, and the server's name where there are several).
pub struct Filter(String);

impl Filter {
    pub fn new(text: &str) -> Self {
        Filter(text.trim().to_ascii_lowercase())
    }

    /// Whether the text `write` puts in `scratch` contains the filter.
    pub fn matches(&self, scratch: &mut String, write: impl FnOnce(&mut String)) -> bool {
        if self.0.is_empty() {
            return true;
        }
        scratch.clear();
        write(scratch);
        scratch.make_ascii_lowercase();
        scratch.contains(&self.0)
    }

    /// Whether a live client matches.
    pub fn client(&self, scratch: &mut String, c: &ClientView) -> bool {
        self.matches(scratch, |s| live_text(s, c))
    }
}

/// What the filter searches in a live client's row: what it reports, and
/// the identity in its certificate.
fn live_text(s: &mut String, c: &ClientView) {
    client_text(s, c.peer, c.ip.as_deref(), c.pid, c.status());
    if let Some(identity) = c.transport.identity() {
        let _ = write!(s, " {identity}");
    }
}

/// What the filter searches in a client's row.
pub fn client_text(
    s: &mut String,
    peer: SocketAddr,
    ip: Option<&str>,
    pid: Option<u32>,
    status: Status,
) {
    let _ = write!(s, "{peer} {} {status}", ip.unwrap_or(""));
    if let Some(pid) = pid {
        let _ = write!(s, " {pid}");
    }
}

/// Which live clients, in which order: what `GET /v1/clients` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    /// Only clients with this status.
    pub status: Option<Status>,
    /// Only clients without this status (the dashboard's `f`: all but
    /// `alive`).
    pub except: Option<Status>,
    pub filter: String,
    pub sort: Sort,
    pub reverse: bool,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            status: None,
            except: None,
            filter: String::new(),
            sort: Sort::Connected,
            reverse: false,
        }
    }
}

impl Query {
    /// The clients that match, in order, as indices into `clients`.
    pub fn rows(&self, clients: &[ClientView]) -> Vec<usize> {
        let candidates = clients.iter().enumerate().map(|(i, c)| (i, c, ""));
        self.select(candidates, |&i| &clients[i])
    }

    /// The same rule over rows of any kind: each candidate comes with its
    /// client and the name of the server it is on, which the filter matches
    /// too (empty where there is one server); `client` finds a row's client
    /// again to sort.
    pub fn select<'a, T>(
        &self,
        candidates: impl Iterator<Item = (T, &'a ClientView, &'a str)>,
        client: impl Fn(&T) -> &'a ClientView,
    ) -> Vec<T> {
        let filter = Filter::new(&self.filter);
        let mut scratch = String::new();
        let mut rows: Vec<T> = candidates
            .filter(|(_, c, server)| {
                let status = c.status();
                self.status.is_none_or(|s| status == s)
                    && self.except != Some(status)
                    && filter.matches(&mut scratch, |s| {
                        live_text(s, c);
                        on_server(s, server);
                    })
            })
            .map(|(row, ..)| row)
            .collect();
        sort_by(&mut rows, self.sort, client);
        if self.reverse {
            rows.reverse();
        }
        rows
    }
}

/// Adds the server's name to what the filter searches, when there is one.
pub fn on_server(s: &mut String, server: &str) {
    if !server.is_empty() {
        s.push(' ');
        s.push_str(server);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::snapshot::Transport;
    use std::time::SystemTime;

    #[test]
    fn the_filter_finds_a_client_by_its_certificate_identity() {
        let peer = |port| SocketAddr::from(([10, 0, 0, 1], port));
        let mut tls = ClientView::opened(1, peer(5001), SystemTime::UNIX_EPOCH);
        tls.transport = Transport::Tls {
            identity: Some("Web-7.prod".into()),
        };
        let plain = ClientView::opened(2, peer(5002), SystemTime::UNIX_EPOCH);
        let query = |filter: &str| Query {
            filter: filter.to_owned(),
            ..Query::default()
        };
        assert_eq!(query("web-7").rows(&[tls.clone(), plain.clone()]), [0]);
        assert_eq!(query("10.0.0.1").rows(&[tls, plain]), [0, 1]);
    }
}
