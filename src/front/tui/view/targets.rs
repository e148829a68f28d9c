//! Whom a kick may name: the clients of servers that can be kicked (not
//! lost, not read-only), and how many of them the table shows.

use std::sync::Arc;

use super::ViewState;
use crate::feed::merged::{Key, Part};
use crate::protocol::Status;

impl ViewState {
    /// The clients in `leave` now, on every server they may be kicked on.
    pub fn leave_clients(&self) -> Vec<Key> {
        let fleet = self.fleet();
        let mut keys = Vec::new();
        for part in fleet.parts().iter().filter(|p| p.unkickable().is_none()) {
            let clients = part.snapshot.clients.iter();
            keys.extend(
                clients
                    .filter(|c| c.status() == Status::Leave)
                    .map(|c| Key {
                        server: Arc::clone(&part.name),
                        peer: c.peer,
                    }),
            );
        }
        keys
    }

    /// Why the client `key` names cannot be kicked from here, if it cannot.
    pub fn unkickable(&self, key: &Key) -> Option<String> {
        let fleet = self.fleet();
        let part = fleet.find(&key.server).map(|i| &fleet.parts()[i]);
        part.and_then(Part::unkickable)
    }

    /// How many of `keys` the table shows now (through filter and `f`).
    pub fn shown_count(&self, keys: &[Key]) -> usize {
        let fleet = self.fleet();
        (self.live.rows.iter())
            .filter(|&&at| keys.iter().any(|k| fleet.is(at, k)))
            .count()
    }
}
