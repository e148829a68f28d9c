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
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::event::{Event, Stamped, rfc3339};

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
            file: BufWriter::new(file),
            lost: Arc::clone(&lost),
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

struct Writer {
    path: PathBuf,
    file: BufWriter<File>,
    lost: Arc<AtomicU64>,
    /// The last write failed (reported once, until writes work again).
    failing: bool,
}

impl Writer {
    fn run(mut self, decisions: Receiver<Event>) {
        let mut unsynced: Option<Instant> = None;
        loop {
            let wait = unsynced.map_or(Duration::from_secs(3600), |since| {
                SYNC_EVERY.saturating_sub(since.elapsed())
            });
            match decisions.recv_timeout(wait) {
                Ok(event) => {
                    self.write(&event);
                    unsynced.get_or_insert_with(Instant::now);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    self.sync();
                    return;
                }
            }
            if unsynced.is_some_and(|since| since.elapsed() >= SYNC_EVERY) {
                self.sync();
                unsynced = None;
            }
        }
    }

    fn write(&mut self, event: &Event) {
        let line = Stamped {
            ts: rfc3339(event.at),
            body: &event.kind,
        };
        let written = serde_json::to_writer(&mut self.file, &line)
            .map_err(io::Error::from)
            .and_then(|()| self.file.write_all(b"\n"));
        self.outcome(written, 1);
    }

    fn sync(&mut self) {
        let synced = self
            .file
            .flush()
            .and_then(|()| self.file.get_ref().sync_data());
        self.outcome(synced, 0);
    }

    fn outcome(&mut self, result: io::Result<()>, lines: u64) {
        match result {
            Ok(()) if self.failing => {
                self.failing = false;
                tracing::warn!(path = %self.path.display(), "the journal is being written again");
            }
            Ok(()) => {}
            Err(error) => {
                self.lost.fetch_add(lines, Ordering::Relaxed);
                if !self.failing {
                    self.failing = true;
                    tracing::error!(path = %self.path.display(), %error, "cannot write the journal; counting what is lost");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::EventKind;
    use std::time::SystemTime;

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("hbmon-journal-{}-{name}", std::process::id()))
    }

    fn connected(port: u16) -> Event {
        Event {
            at: SystemTime::now(),
            kind: EventKind::Connected {
                peer: ([127, 0, 0, 1], port).into(),
            },
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
