//! `serve --record-gaps FILE`: every client's heartbeat gaps, appended as
//! JSON lines (`{"peer":..,"ip":..,"pid":..,"gap_ms":..}`), for `hbmon
//! bench detectors --trace FILE` to replay a real fleet through every
//! detector.
//!
//! The gaps are those the detectors learn: at each tick, the time between
//! the latest heartbeats counted at this tick and at the one before,
//! shared evenly when several arrived in between. The registry only
//! queues them (a bounded queue, never waiting; what does not fit is
//! counted); a thread of its own formats and writes them, buffered and
//! flushed each second. The file never grows past its cap: once the next
//! line would pass it, recording stops for the server's life (the file
//! already there counts), and one warning says so. It never rotates: a
//! trace is a sample, and its first hours are as good as its last.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Gaps waiting for the writer before new ones are counted as lost.
const QUEUE: usize = 64 * 1024;
/// The longest a recorded gap waits in the buffer before it is written.
const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// The default `--record-gaps-max`, in MiB: an hour of a few hundred
/// clients beating once a second, small beside any disk.
pub const DEFAULT_MAX_MIB: u32 = 64;

/// Where to record the gaps, and the most the file may hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GapRecording {
    pub path: PathBuf,
    pub max_bytes: u64,
}

/// One line of the file: one gap of one client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GapLine {
    /// The connection, which tells two runs of one process apart.
    pub peer: SocketAddr,
    pub ip: String,
    pub pid: u32,
    pub gap_ms: u64,
}

/// One gap, as the registry hands it over (the formatting is the writer's).
struct Gap {
    peer: SocketAddr,
    ip: Arc<str>,
    pid: u32,
    gap: Duration,
    /// Heartbeats that came this far apart: a line each.
    beats: u32,
}

/// The registry's end: queues gaps for the writer.
pub(crate) struct GapLog {
    queue: Option<SyncSender<Gap>>,
    /// Gaps not recorded because the queue was full.
    lost: Arc<AtomicU64>,
    writer: Option<JoinHandle<()>>,
}

impl GapLog {
    /// Opens (or creates) the file for appending and starts its writer.
    pub(crate) fn open(recording: &GapRecording) -> io::Result<GapLog> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&recording.path)?;
        let written = file.metadata()?.len();
        let (queue, gaps) = sync_channel(QUEUE);
        let lost = Arc::new(AtomicU64::new(0));
        let writer = Writer {
            path: recording.path.clone(),
            file: BufWriter::new(file),
            written,
            max_bytes: recording.max_bytes,
            line: Vec::with_capacity(128),
        };
        let writer = std::thread::Builder::new()
            .name("hbmon-gaps".into())
            .spawn(move || writer.run(gaps))?;
        Ok(GapLog {
            queue: Some(queue),
            lost,
            writer: Some(writer),
        })
    }

    /// Queues the gap of one client's latest `beats` heartbeats (the
    /// client as it says it is: ip and pid); never blocks. Once the file
    /// is full the writer is gone, and this costs one failed send.
    pub(crate) fn record(
        &self,
        peer: SocketAddr,
        (ip, pid): (&Arc<str>, u32),
        gap: Duration,
        beats: u32,
    ) {
        let Some(queue) = &self.queue else { return };
        let gap = Gap {
            peer,
            ip: Arc::clone(ip),
            pid,
            gap,
            beats,
        };
        if let Err(TrySendError::Full(_)) = queue.try_send(gap) {
            self.lost.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for GapLog {
    /// Writes out what is queued and stops the writer.
    fn drop(&mut self) {
        drop(self.queue.take());
        let lost = self.lost.load(Ordering::Relaxed);
        if lost > 0 {
            tracing::warn!("--record-gaps: {lost} gaps not recorded (the writer fell behind)");
        }
        if let Some(writer) = self.writer.take()
            && writer.join().is_err()
        {
            tracing::error!("the gap recorder panicked");
        }
    }
}

struct Writer {
    path: PathBuf,
    file: BufWriter<File>,
    /// Bytes in the file, what is buffered included.
    written: u64,
    max_bytes: u64,
    /// The line being formatted.
    line: Vec<u8>,
}

impl Writer {
    fn run(mut self, gaps: Receiver<Gap>) {
        let mut oldest: Option<Instant> = None;
        loop {
            let wait = oldest.map_or(Duration::from_secs(3600), |since| {
                FLUSH_EVERY.saturating_sub(since.elapsed())
            });
            match gaps.recv_timeout(wait) {
                Ok(gap) => {
                    if !(0..gap.beats).all(|_| self.add(&gap)) {
                        break;
                    }
                    oldest.get_or_insert_with(Instant::now);
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if oldest.is_some_and(|since| since.elapsed() >= FLUSH_EVERY) {
                self.flush();
                oldest = None;
            }
        }
        self.flush();
    }

    /// Buffers one line; `false` once the cap is reached or the disk
    /// failed, when recording stops.
    fn add(&mut self, gap: &Gap) -> bool {
        self.line.clear();
        let line = GapLine {
            peer: gap.peer,
            ip: gap.ip.to_string(),
            pid: gap.pid,
            gap_ms: gap.gap.as_millis() as u64,
        };
        if serde_json::to_writer(&mut self.line, &line).is_err() {
            return true;
        }
        self.line.push(b'\n');
        let len = self.line.len() as u64;
        if self.written.saturating_add(len) > self.max_bytes {
            tracing::warn!(
                "--record-gaps: {} has reached its cap of {} bytes (--record-gaps-max); no more gaps are recorded",
                self.path.display(),
                self.max_bytes
            );
            return false;
        }
        if let Err(error) = self.file.write_all(&self.line) {
            self.failed(&error);
            return false;
        }
        self.written += len;
        true
    }

    fn flush(&mut self) {
        if let Err(error) = self.file.flush() {
            self.failed(&error);
        }
    }

    fn failed(&self, error: &io::Error) {
        tracing::error!(
            "--record-gaps: cannot write {}: {error}; no more gaps are recorded",
            self.path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn peer(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn lines(path: &Path) -> Vec<GapLine> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn gaps_are_appended_as_lines_and_stop_whole_at_the_cap() {
        let dir = std::env::temp_dir().join(format!("hbmon-gaps-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gaps.jsonl");
        let _ = std::fs::remove_file(&path);
        let ip: Arc<str> = Arc::from("10.0.0.7");
        let one = GapLine {
            peer: peer(5001),
            ip: ip.to_string(),
            pid: 42,
            gap_ms: 1003,
        };
        let line_len = serde_json::to_string(&one).unwrap().len() as u64 + 1;
        // Room for three whole lines and part of a fourth.
        let recording = GapRecording {
            path: path.clone(),
            max_bytes: line_len * 3 + line_len / 2,
        };
        let log = GapLog::open(&recording).unwrap();
        for _ in 0..10 {
            log.record(peer(5001), (&ip, 42), Duration::from_millis(1003), 1);
        }
        drop(log);
        assert_eq!(lines(&path), vec![one.clone(); 3]);
        // A restart appends, and the lines already there count.
        let log = GapLog::open(&recording).unwrap();
        log.record(peer(5001), (&ip, 42), Duration::from_millis(1003), 2);
        drop(log);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), line_len * 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
