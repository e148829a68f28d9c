//! Stdout, written on a thread of its own through a bounded queue of lines.
//!
//! A reader that is slow makes the queue fill, the stream fall behind and
//! say so (`lagged`), never the server. A reader that stops altogether must
//! not hold a shutdown hostage: once the server is told to stop, stdout gets
//! [`GRACE`] to drain, and then the lines still queued are given up and
//! counted. The journal, not stdout, is the durable record.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Lines queued for the writer before the stream waits (and lags).
const QUEUE: usize = 1024;
/// How long stdout may take to drain once the server is stopping.
pub(super) const GRACE: Duration = Duration::from_secs(2);

pub(super) struct Stdout {
    queue: mpsc::Sender<String>,
    /// Lines handed to the writer.
    sent: u64,
    /// Lines the writer has written.
    written: Arc<AtomicU64>,
    /// Lines given up without reaching the writer.
    dropped: u64,
    /// Cancelled [`GRACE`] after the stop: from then on nothing waits for
    /// stdout.
    give_up: CancellationToken,
    /// How the writer ended: `Err` if stdout failed (a closed pipe).
    done: oneshot::Receiver<std::io::Result<()>>,
}

impl Stdout {
    /// Starts the writer. `stop` is the server's stop.
    pub(super) fn start(stop: &CancellationToken) -> Result<Stdout> {
        let (queue, mut lines) = mpsc::channel::<String>(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        let (finished, done) = oneshot::channel();
        let count = Arc::clone(&written);
        std::thread::Builder::new()
            .name("hbmon-stdout".into())
            .spawn(move || {
                let mut stdout = std::io::stdout().lock();
                let result = (|| {
                    while let Some(line) = lines.blocking_recv() {
                        stdout.write_all(line.as_bytes())?;
                        stdout.write_all(b"\n")?;
                        // Flush once the queue is empty: a burst costs one write.
                        if lines.is_empty() {
                            stdout.flush()?;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    stdout.flush()
                })();
                let _ = finished.send(result);
            })
            .context("starting the stdout writer")?;
        let give_up = CancellationToken::new();
        let (stop, deadline) = (stop.clone(), give_up.clone());
        tokio::spawn(async move {
            stop.cancelled().await;
            tokio::time::sleep(GRACE).await;
            deadline.cancel();
        });
        Ok(Stdout {
            queue,
            sent: 0,
            written,
            dropped: 0,
            give_up,
            done,
        })
    }

    /// Queues a line, waiting while the queue is full, until the grace after
    /// a stop runs out.
    pub(super) async fn write(&mut self, line: String) -> Result<()> {
        tokio::select! {
            biased;
            sent = self.queue.send(line) => match sent {
                Ok(()) => self.sent += 1,
                Err(_) => return Err(self.failure().await),
            },
            _ = self.give_up.cancelled() => self.dropped += 1,
        }
        Ok(())
    }

    /// Why the writer stopped.
    async fn failure(&mut self) -> anyhow::Error {
        match (&mut self.done).await {
            Ok(Err(error)) => anyhow::Error::new(error).context("writing to stdout"),
            _ => anyhow!("the stdout writer stopped"),
        }
    }

    /// Lets the writer drain, within the grace after the stop; returns how
    /// many lines were never written.
    pub(super) async fn finish(self) -> Result<u64> {
        let Stdout {
            queue,
            sent,
            written,
            dropped,
            give_up,
            done,
        } = self;
        drop(queue);
        tokio::select! {
            result = done => {
                if let Ok(result) = result {
                    result.context("writing to stdout")?;
                }
            }
            _ = give_up.cancelled() => {}
        }
        Ok(dropped + sent - written.load(Ordering::Relaxed))
    }
}
