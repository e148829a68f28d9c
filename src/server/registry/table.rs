//! The registry's table of clients: one array, in connection order.
//!
//! The tick and every publish walk the whole table, and in a large fleet
//! what a walk costs is fetching each entry from memory. Entries side by
//! side are a stream the processor fetches ahead of; a tree of boxes would
//! be a pointer to chase per client, each a wait of its own.
//!
//! Connections are numbered as they open and reported in that order, so a
//! newcomer goes at the end. One that closes leaves a hole, and the holes
//! are squeezed out once they outnumber the clients: a close costs a
//! constant amount of work on average, however large the fleet. A lookup
//! is a binary search of the ids, which are kept apart from the entries so
//! the search reads a few cache lines, not a client per step.

pub(super) struct Table<T> {
    /// In increasing order, one per slot of `entries`, holes included.
    ids: Vec<u64>,
    entries: Vec<Option<T>>,
    holes: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            ids: Vec::new(),
            entries: Vec::new(),
            holes: 0,
        }
    }
}

impl<T> Table<T> {
    /// Adds the client numbered `id`, or replaces the one that had it.
    pub(super) fn insert(&mut self, id: u64, entry: T) {
        if self.ids.last().is_none_or(|&last| last < id) {
            self.ids.push(id);
            self.entries.push(Some(entry));
            return;
        }
        match self.ids.binary_search(&id) {
            Ok(at) => {
                if self.entries[at].replace(entry).is_none() {
                    self.holes -= 1;
                }
            }
            // Not the order connections open in, but kept in order anyway.
            Err(at) => {
                self.ids.insert(at, id);
                self.entries.insert(at, Some(entry));
            }
        }
    }

    pub(super) fn get(&self, id: u64) -> Option<&T> {
        let at = self.ids.binary_search(&id).ok()?;
        self.entries[at].as_ref()
    }

    pub(super) fn get_mut(&mut self, id: u64) -> Option<&mut T> {
        let at = self.ids.binary_search(&id).ok()?;
        self.entries[at].as_mut()
    }

    pub(super) fn remove(&mut self, id: u64) -> Option<T> {
        let at = self.ids.binary_search(&id).ok()?;
        let entry = self.entries[at].take()?;
        self.holes += 1;
        if self.holes > self.len() {
            self.squeeze();
        }
        Some(entry)
    }

    /// Drops the holes, and gives back what a shrunken fleet left unused.
    fn squeeze(&mut self) {
        let mut kept = self.entries.iter().map(Option::is_some);
        self.ids.retain(|_| kept.next().unwrap_or(false));
        self.entries.retain(Option::is_some);
        self.holes = 0;
        if self.entries.capacity() > 4 * self.entries.len() {
            self.ids.shrink_to(2 * self.ids.len());
            self.entries.shrink_to(2 * self.entries.len());
        }
    }

    pub(super) fn len(&self) -> usize {
        self.ids.len() - self.holes
    }

    /// The clients' numbers, in order.
    pub(super) fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.iter().map(|(id, _)| id)
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        let entries = self.entries.iter().map(Option::as_ref);
        (self.ids.iter().copied().zip(entries)).filter_map(|(id, entry)| Some((id, entry?)))
    }

    pub(super) fn iter_mut(&mut self) -> impl Iterator<Item = (u64, &mut T)> {
        let entries = self.entries.iter_mut().map(Option::as_mut);
        (self.ids.iter().copied().zip(entries)).filter_map(|(id, entry)| Some((id, entry?)))
    }

    pub(super) fn values_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().flatten()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::Table;

    #[derive(Clone, Debug)]
    enum Step {
        /// The next connection opens (ids only grow, as connections' do).
        Open,
        /// An id out of order, or one already there.
        Insert(u64),
        Remove(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => Just(Step::Open),
            1 => (0..64u64).prop_map(Step::Insert),
            4 => (0..64u64).prop_map(Step::Remove),
        ]
    }

    proptest! {
        /// Whatever opens and closes, the table answers as an ordered map.
        #[test]
        fn behaves_as_an_ordered_map(steps in prop::collection::vec(step(), 0..300)) {
            let (mut table, mut map) = (Table::default(), BTreeMap::new());
            let mut next = 0;
            for step in steps {
                match step {
                    Step::Open => {
                        next += 1;
                        table.insert(next, next * 10);
                        map.insert(next, next * 10);
                    }
                    Step::Insert(id) => {
                        table.insert(id, id * 7);
                        map.insert(id, id * 7);
                    }
                    Step::Remove(id) => prop_assert_eq!(table.remove(id), map.remove(&id)),
                }
                prop_assert_eq!(table.len(), map.len());
                prop_assert!(table.holes <= table.len());
                let listed: Vec<(u64, u64)> = table.iter().map(|(id, v)| (id, *v)).collect();
                let expected: Vec<(u64, u64)> = map.iter().map(|(id, v)| (*id, *v)).collect();
                prop_assert_eq!(listed, expected);
            }
            for id in 0..=next.max(64) {
                prop_assert_eq!(table.get(id), map.get(&id));
            }
        }
    }

    #[test]
    fn a_fleet_that_shrinks_gives_its_memory_back() {
        let mut table = Table::default();
        for id in 0..10_000u64 {
            table.insert(id, [0u8; 64]);
        }
        for id in 100..10_000 {
            table.remove(id);
        }
        assert_eq!(table.len(), 100);
        assert!(
            table.entries.capacity() <= 400,
            "{}",
            table.entries.capacity()
        );
        let mut left = table.values_mut().count();
        for (_, entry) in table.iter_mut() {
            entry[0] = 1;
            left -= 1;
        }
        assert_eq!(left, 0);
        assert!(table.ids().eq(0..100));
    }
}
