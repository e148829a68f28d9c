//! The journal (`--journal PATH`): every decision the registry makes,
//! appended to a file as JSON lines, the same lines `--format json` prints.
//!
//! A thread of its own writes the file, so a slow or full disk never holds
//! up heartbeats; it is fed through a bounded queue, and what does not fit
//! is counted, not silently dropped. Lines are flushed and synced to disk at
//! least once a second: after a `kill -9` at most the last second is missing
//! and no earlier line is damaged. A clean shutdown writes everything. A
//! restart appends; a line torn by a crash is fenced off with a newline, and
//! readers skip it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::feed::event::{Event, Stamped, rfc3339};

/// Decisions waiting for the writer before new ones are counted as lost.
const QUEUE: usize = 64 * 1024;
/// The longest a written line waits before it is synced to disk.
const SYNC_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Journal {
    queue: SyncSender<Event>,
    /// Decisions not written: the queue was full, or the disk failed.
    lost: Arc<AtomicU64>,
    writer: JoinHandle<()>,
}

impl Journal {
    /// Opens (or creates) the journal for appending and starts its writer.
    pub(crate) fn open(path: &Path) -> io::Result<Journal> {
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)?;
        fence_torn_line(&mut file)?;
        let (queue, decisions) = sync_channel(QUEUE);
        let lost = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            path: path.to_owned(),
            file,
            pending: Vec::with_capacity(WRITE_AT),
            pending_lines: 0,
            unsynced_lines: 0,
            lost: Arc::clone(&lost),
            torn: false,
            failing: false,
        };
        let writer = std::thread::Builder::new()
            .name("hbmon-journal".into())
            .spawn(move || writer.run(decisions))?;
        Ok(Journal {
            queue,
            lost,
            writer,
        })
    }

    /// Queues a decision; never blocks.
    pub(crate) fn record(&self, event: &Event) {
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) =
            self.queue.try_send(event.clone())
        {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Decisions that could not be written so far.
    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Ordering::Relaxed)
    }

    /// Writes out everything queued, syncs, and stops the writer.
    pub(crate) fn close(self) {
        drop(self.queue);
        if self.writer.join().is_err() {
            tracing::error!("the journal writer panicked");
        }
    }
}

/// If the file does not end with a newline (a crash tore its last line),
/// adds one, so the next line starts clean.
fn fence_torn_line(file: &mut File) -> io::Result<()> {
    let len = file.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(());
    }
    file.seek(SeekFrom::Start(len - 1))?;
    let mut last = [0u8; 1];
    file.read_exact(&mut last)?;
    if last[0] != b'\n' {
        file.write_all(b"\n")?;
    }
    Ok(())
}

/// Lines are written out once this much is pending (and synced each second).
const WRITE_AT: usize = 64 * 1024;

struct Writer {
    path: PathBuf,
    file: File,
    /// Lines not yet written to the file.
    pending: Vec<u8>,
    pending_lines: u64,
    /// Lines written to the file but not yet synced to disk.
    unsynced_lines: u64,
    lost: Arc<AtomicU64>,
    /// A write or sync failed and may have left part of a line: the next
    /// line starts on a line of its own.
    torn: bool,
    /// Failing since the last successful sync (reported once).
    failing: bool,
}

impl Writer {
    fn run(mut self, decisions: Receiver<Event>) {
        let mut oldest: Option<Instant> = None;
        loop {
            let wait = oldest.map_or(Duration::from_secs(3600), |since| {
                SYNC_EVERY.saturating_sub(since.elapsed())
            });
            match decisions.recv_timeout(wait) {
                Ok(event) => {
                    self.add(&event);
                    oldest.get_or_insert_with(Instant::now);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.sync();
                    return;
                }
            }
            if oldest.is_some_and(|since| since.elapsed() >= SYNC_EVERY) {
                self.sync();
                oldest = None;
            }
        }
    }

    fn add(&mut self, event: &Event) {
        if std::mem::take(&mut self.torn) {
            self.pending.push(b'\n');
        }
        let line = Stamped {
            ts: rfc3339(event.at),
            body: &event.kind,
        };
        if serde_json::to_writer(&mut self.pending, &line).is_err() {
            // Serializing to memory does not fail; if it ever did, say so.
            self.lost.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.pending.push(b'\n');
        self.pending_lines += 1;
        if self.pending.len() >= WRITE_AT {
            self.write_out();
        }
    }

    /// Writes the pending lines to the file (not yet to disk).
    fn write_out(&mut self) {
        match self.file.write_all(&self.pending) {
            Ok(()) => self.unsynced_lines += self.pending_lines,
            Err(error) => self.failed(self.pending_lines, &error),
        }
        self.pending.clear();
        self.pending_lines = 0;
    }

    fn sync(&mut self) {
        self.write_out();
        if self.unsynced_lines == 0 && !self.failing {
            return;
        }
        match self.file.sync_data() {
            Ok(()) => {
                self.unsynced_lines = 0;
                if std::mem::take(&mut self.failing) {
                    tracing::warn!(path = %self.path.display(), "the journal is being written again");
                }
            }
            // Written lines a failed sync may have lost are counted too.
            Err(error) => {
                let lines = std::mem::take(&mut self.unsynced_lines);
                self.failed(lines, &error);
            }
        }
    }

    fn failed(&mut self, lines: u64, error: &io::Error) {
        self.lost.fetch_add(lines, Ordering::Relaxed);
        self.torn = true;
        if !std::mem::replace(&mut self.failing, true) {
            tracing::error!(path = %self.path.display(), %error, "cannot write the journal; counting what is lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::event::EventKind;
    use std::time::SystemTime;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("hbmon-journal-{}-{name}", std::process::id()))
    }

    fn connected(port: u16) -> Event {
        Event {
            at: SystemTime::now(),
            kind: Arc::new(EventKind::Connected {
                peer: ([127, 0, 0, 1], port).into(),
                identity: None,
            }),
        }
    }

    #[test]
    fn every_recorded_decision_is_written_in_order_and_restarts_append() {
        let path = temp("order");
        let _ = std::fs::remove_file(&path);
        for round in 0..2u16 {
            let journal = Journal::open(&path).unwrap();
            for port in 0..100 {
                journal.record(&connected(round * 100 + port));
            }
            assert_eq!(journal.lost(), 0);
            journal.close();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let ports: Vec<u64> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["peer"]
                    .as_str()
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        assert_eq!(ports, (0..200).collect::<Vec<_>>());
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn a_torn_last_line_is_fenced_off_on_open() {
        let path = temp("torn");
        std::fs::write(&path, "{\"ts\":\"2026-11-24T00:00:00Z\",\"event\":\"connected\",\"peer\":\"127.0.0.1:1\"}\n{\"ts\":\"20").unwrap();
        let journal = Journal::open(&path).unwrap();
        journal.record(&connected(2));
        journal.close();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[1], "{\"ts\":\"20");
        assert!(lines[2].contains("127.0.0.1:2"));
        std::fs::remove_file(&path).unwrap();
    }
}
