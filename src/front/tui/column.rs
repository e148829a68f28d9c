//! The live table's columns: their titles and widths, which of them fit a
//! narrow terminal, and which column shows each sort order (the orders
//! themselves are [`Sort`]'s, the one list `GET /v1/clients` takes too).

use crate::feed::query::Sort;

/// One column of the live table, and (for the sortable ones) a sort order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Column {
    Mark,
    /// The server that holds the client (shown when there are several).
    Server,
    Peer,
    ReportedIp,
    /// The identity in the client's TLS certificate.
    Identity,
    Pid,
    Status,
    Miss,
    Strikes,
    Beats,
    LastSeen,
    /// Earlier connections with the same ip and pid.
    Reconnects,
    /// Times back from `leave` to `alive`.
    Flaps,
    /// How long ago the client connected; as a sort, the order clients
    /// connected in (the snapshot's own order).
    Connected,
    Next,
}

impl Column {
    /// Left to right.
    const DISPLAY: [Column; 15] = [
        Column::Mark,
        Column::Server,
        Column::Peer,
        Column::ReportedIp,
        Column::Identity,
        Column::Pid,
        Column::Status,
        Column::Miss,
        Column::Strikes,
        Column::Beats,
        Column::LastSeen,
        Column::Reconnects,
        Column::Flaps,
        Column::Connected,
        Column::Next,
    ];
    /// Most important first: a narrow terminal keeps a prefix of these whole
    /// rather than squeezing every column illegibly.
    const PRIORITY: [Column; 15] = [
        Column::Mark,
        Column::Server,
        Column::Peer,
        Column::Status,
        Column::Next,
        Column::Miss,
        Column::Strikes,
        Column::Identity,
        Column::Pid,
        Column::LastSeen,
        Column::Beats,
        Column::ReportedIp,
        Column::Connected,
        Column::Flaps,
        Column::Reconnects,
    ];
    pub fn title(self) -> &'static str {
        match self {
            Column::Mark => "",
            Column::Server => "server",
            Column::Peer => "ip:port",
            Column::ReportedIp => "reported ip",
            Column::Identity => "identity",
            Column::Pid => "pid",
            Column::Status => "status",
            Column::Miss => "miss",
            Column::Strikes => "strikes",
            Column::Beats => "beats",
            Column::LastSeen => "last seen",
            Column::Reconnects => "reconn",
            Column::Flaps => "flaps",
            Column::Connected => "connected",
            Column::Next => "next",
        }
    }

    pub fn width(self) -> u16 {
        match self {
            Column::Mark => 1,
            Column::Server => 14,
            Column::Peer => 21,
            Column::ReportedIp => 15,
            Column::Identity => 24,
            Column::Pid => 10,
            Column::Status => 6,
            Column::Miss => 5,
            Column::Strikes => 7,
            Column::Beats => 8,
            Column::LastSeen => 10,
            Column::Reconnects => 6,
            Column::Flaps => 5,
            Column::Connected => 9,
            Column::Next => 14,
        }
    }

    /// The columns that fit in `width`, in display order. The column the
    /// rows are sorted by is kept first, since an order that cannot be seen
    /// is no use; connection order, the table's own, needs no column. The
    /// server column shows only when there are `several` servers; the
    /// identity column only when some client has an identity (mutual TLS):
    /// a fleet in clear keeps its width for the rest.
    pub fn fitting(width: u16, sort: Sort, several: bool, identities: bool) -> Vec<Column> {
        let sorted = (sort != Sort::Connected).then(|| Column::from(sort));
        let mut left = width;
        let mut shown = Vec::new();
        for column in sorted.into_iter().chain(Column::PRIORITY) {
            let hidden = match column {
                Column::Server => !several,
                Column::Identity => !identities,
                _ => false,
            };
            if shown.contains(&column) || hidden {
                continue;
            }
            // Each column but the last is followed by one space.
            let needed = column.width() + 1;
            if needed <= left + 1 {
                left = left.saturating_sub(needed);
                shown.push(column);
            }
        }
        Column::DISPLAY
            .into_iter()
            .filter(|c| shown.contains(c))
            .collect()
    }
}

impl From<Sort> for Column {
    /// The column that shows what `sort` orders by.
    fn from(sort: Sort) -> Column {
        match sort {
            Sort::Connected => Column::Connected,
            Sort::Peer => Column::Peer,
            Sort::Pid => Column::Pid,
            Sort::Status => Column::Status,
            Sort::Miss => Column::Miss,
            Sort::Strikes => Column::Strikes,
            Sort::Beats => Column::Beats,
            Sort::LastSeen => Column::LastSeen,
            Sort::Reconnects => Column::Reconnects,
            Sort::Flaps => Column::Flaps,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identity_column_shows_only_when_a_client_has_an_identity() {
        let wide = Column::fitting(200, Sort::Connected, false, false);
        assert!(!wide.contains(&Column::Identity), "{wide:?}");
        let wide = Column::fitting(200, Sort::Connected, false, true);
        let at = |c| wide.iter().position(|&x| x == c).unwrap();
        assert_eq!(at(Column::Identity), at(Column::ReportedIp) + 1, "{wide:?}");
        // It matters more than the pid and the ip a client claims.
        let narrow = Column::fitting(100, Sort::Connected, false, true);
        assert!(narrow.contains(&Column::Identity), "{narrow:?}");
        assert!(!narrow.contains(&Column::ReportedIp), "{narrow:?}");
    }
}
