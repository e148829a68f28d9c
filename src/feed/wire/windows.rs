//! Maintenance windows across the socket: every frame, whole or a change,
//! ends with the clients in a window and when each ends. They are few, so
//! they travel whole rather than as changes; and at the end of the frame,
//! not in the rows, so that the rows keep the layout every build reads.

use serde::{Deserialize, Serialize};

use super::{WireError, from_ms, ms};
use crate::feed::snapshot::ClientView;

/// Each client in a window (its id, in the snapshot's order) and when the
/// window ends (ms since the epoch).
#[derive(Serialize, Deserialize)]
pub(super) struct Windows(Vec<(u64, u64)>);

impl Windows {
    pub(super) fn of(clients: &[ClientView]) -> Windows {
        let open = clients
            .iter()
            .filter_map(|c| Some((c.id, ms(c.maintenance?))));
        Windows(open.collect())
    }

    /// Sets every client's window from the list; a client the list does
    /// not name (in order) is in none.
    pub(super) fn apply(&self, clients: &mut [ClientView]) -> Result<(), WireError> {
        let mut open = self.0.iter().peekable();
        for client in clients {
            client.maintenance = match open.next_if(|(id, _)| *id == client.id) {
                Some(&(_, end)) => Some(from_ms(end)?),
                None => None,
            };
        }
        Ok(())
    }
}
