//! A fleet of simulated clients: real TCP connections speaking the protocol,
//! each with a behaviour, for load, demos and benchmarks.
//!
//! It knows nothing of the server's internals; it works against any server
//! that speaks the protocol. It owns only its counters ([`Tally`]), which
//! front ends (the progress line, the demo, the benchmark) read.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

pub use crate::fleet::mix::{Behaviour, Mix};
use crate::fleet::tally::Ending;
pub use crate::fleet::tally::{Counts, Summary, Tally};
use crate::protocol::{
    ClientCodec, DEFAULT_MAX_FRAME, FrameError, Heartbeat, Notice, Status, Token, encode_frame,
};
use crate::tls::{ClientStream, ClientTls};

type Notices = FramedRead<ReadHalf<ClientStream>, ClientCodec>;
type Writer = WriteHalf<ClientStream>;

/// Connections being set up at once when clients join all together: more
/// would overflow the server's accept backlog and cost SYN retries.
const CONNECTS_IN_FLIGHT: usize = 256;
/// Heartbeats a flooding client writes per call.
const FLOOD_BATCH: usize = 512;

/// What the fleet does.
#[derive(Clone, Debug)]
pub struct Plan {
    pub server: SocketAddr,
    pub clients: usize,
    /// Time between two clients joining; zero joins them all at once.
    pub every: Duration,
    pub interval: Duration,
    pub mix: Mix,
    /// Client `i` reports pid `pid_base + i`.
    pub pid_base: u32,
    pub flaky_gap: Duration,
    pub dying_after: Duration,
    /// Sent in each client's first heartbeat, when set.
    pub token: Option<Token>,
    /// Every client speaks TLS, when set.
    pub tls: Option<ClientTls>,
}

/// Runs the fleet until every client has ended or `stop` is cancelled. If
/// a client cannot connect before any has, the server is not there: the
/// fleet stops joining, and [`Tally::unreachable`] says why.
pub async fn run(plan: Plan, tally: Arc<Tally>, stop: CancellationToken) {
    let behaviours = plan.mix.assign(plan.clients);
    let plan = Arc::new(plan);
    // The fleet's own stop: giving up must not stop what `stop` belongs to
    // (the demo's server).
    let stop = stop.child_token();
    let connecting = Arc::new(Semaphore::new(CONNECTS_IN_FLIGHT));
    let mut clients = JoinSet::new();
    for (index, behaviour) in behaviours.into_iter().enumerate() {
        if stop.is_cancelled() {
            break;
        }
        let Ok(slot) = Arc::clone(&connecting).acquire_owned().await else {
            break;
        };
        tally.joined(behaviour);
        let client = Client {
            index,
            behaviour,
            plan: Arc::clone(&plan),
            tally: Arc::clone(&tally),
        };
        clients.spawn(client.run(slot, stop.clone()));
        if !plan.every.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(plan.every) => {}
                _ = stop.cancelled() => break,
            }
        }
    }
    while clients.join_next().await.is_some() {}
}

struct Client {
    index: usize,
    behaviour: Behaviour,
    plan: Arc<Plan>,
    tally: Arc<Tally>,
}

impl Client {
    async fn run(self, connecting: tokio::sync::OwnedSemaphorePermit, stop: CancellationToken) {
        let server = self.plan.server.to_string();
        let stream = tokio::select! {
            stream = crate::tls::dial(&server, self.plan.tls.as_ref()) => stream,
            _ = stop.cancelled() => return,
        };
        drop(connecting);
        let stream = match stream {
            Ok(stream) => stream,
            Err(error) => {
                self.tally
                    .ended(self.behaviour, Ending::Refused(error.to_string()));
                if self.tally.unreachable().is_some() {
                    stop.cancel();
                }
                return;
            }
        };
        self.tally.connected(self.behaviour);
        let ending = self.converse(stream, stop).await;
        self.tally.ended(self.behaviour, ending);
    }

    /// Speaks for this client until the server closes it, it ends by its
    /// behaviour, or `stop` is cancelled: the token first if the plan has
    /// one, then a flood or one heartbeat per tick.
    async fn converse(&self, stream: ClientStream, stop: CancellationToken) -> Ending {
        let local = match stream.tcp().local_addr() {
            Ok(local) => local,
            Err(error) => return Ending::Failed(error.to_string()),
        };
        let pid = self.plan.pid_base.wrapping_add(self.index as u32);
        // Encoded once: a heartbeat costs this client one write.
        let heartbeat = encode_frame(&Heartbeat {
            ip: local.ip().to_string(),
            status: Status::Alive,
            pid,
            token: None,
        });
        let (reader, mut writer) = tokio::io::split(stream);
        let notices = FramedRead::new(reader, ClientCodec::new(DEFAULT_MAX_FRAME));
        if let Some(token) = &self.plan.token
            && let Err(error) = writer.write_all(&hello(local, pid, token)).await
        {
            return Ending::Failed(format!("sending the token: {error}"));
        }
        match self.behaviour {
            Behaviour::Flood => {
                let batch = heartbeat.repeat(FLOOD_BATCH);
                self.flood(&batch, notices, writer, stop).await
            }
            Behaviour::FloodSeq => {
                let batch = numbered(&local.ip().to_string(), pid);
                self.flood(&batch, notices, writer, stop).await
            }
            _ => self.beat(&heartbeat, notices, writer, stop).await,
        }
    }

    /// One frame per tick, as [`Client::at_tick`] chooses, until the
    /// server's close notice, the behaviour's end or `stop`.
    async fn beat(
        &self,
        heartbeat: &[u8],
        mut notices: Notices,
        mut writer: Writer,
        stop: CancellationToken,
    ) -> Ending {
        // Spread clients that joined together over the interval.
        let phase = self
            .plan
            .interval
            .mul_f64((self.index % 100) as f64 / 100.0);
        let started = Instant::now();
        let mut ticker = tokio::time::interval_at(started + phase, self.plan.interval);
        let mut sent = 0u64;
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ending::Stopped,
                notice = notices.next() => if let Some(ending) = ending_by(notice) {
                    return ending;
                },
                _ = ticker.tick() => {
                    let frame = match self.at_tick(heartbeat, sent, started.elapsed()) {
                        Tick::Send(frame) => frame,
                        Tick::Skip => continue,
                        Tick::HangUp => {
                            // Abrupt: a reset, not a goodbye.
                            let _ = notices.into_inner().unsplit(writer).tcp().set_zero_linger();
                            return Ending::HungUp;
                        }
                    };
                    if let Err(error) = writer.write_all(frame).await {
                        return Ending::Failed(format!("sending a heartbeat: {error}"));
                    }
                    sent += 1;
                    self.tally.sent(1);
                }
            }
        }
    }

    /// What this client's behaviour does at a tick, `sent` frames and
    /// `elapsed` after its first.
    fn at_tick<'a>(&self, heartbeat: &'a [u8], sent: u64, elapsed: Duration) -> Tick<'a> {
        match self.behaviour {
            // A flood is handed to `flood` before any tick.
            Behaviour::Steady | Behaviour::Flood | Behaviour::FloodSeq => Tick::Send(heartbeat),
            Behaviour::Flaky => {
                let phase = elapsed.as_nanos() / self.plan.flaky_gap.as_nanos().max(1);
                if phase % 2 == 1 {
                    Tick::Skip
                } else {
                    Tick::Send(heartbeat)
                }
            }
            Behaviour::Silent if sent > 0 => Tick::Skip,
            Behaviour::Silent => Tick::Send(heartbeat),
            Behaviour::Dying if elapsed >= self.plan.dying_after => Tick::HangUp,
            Behaviour::Dying => Tick::Send(heartbeat),
            Behaviour::Bad if sent == 3 => Tick::Send(b"\0\0\0\x09{not json"),
            Behaviour::Bad if sent > 3 => Tick::Skip,
            Behaviour::Bad => Tick::Send(heartbeat),
        }
    }
}

/// What a beating client does at a tick.
enum Tick<'a> {
    Send(&'a [u8]),
    Skip,
    HangUp,
}

/// How a client ends on what its notice stream gave, if it does: a close
/// notice, the server hanging up, or an unreadable stream. Other notices
/// leave it running.
fn ending_by(notice: Option<Result<Notice, FrameError>>) -> Option<Ending> {
    match notice {
        Some(Ok(notice)) if notice.status != Status::Close => None,
        Some(Ok(notice)) => Some(Ending::ClosedByServer(Some(notice.reason))),
        None => Some(Ending::ClosedByServer(None)),
        Some(Err(error)) => Some(Ending::Failed(format!("reading from the server: {error}"))),
    }
}

impl Client {
    /// Writes `batch` (`FLOOD_BATCH` heartbeats) back to back until told to
    /// stop.
    ///
    /// Notices are read by a task of their own: a `write_all` interrupted
    /// half way would corrupt the stream, so the write is only abandoned
    /// when the connection is being dropped anyway.
    async fn flood(
        &self,
        batch: &[u8],
        mut notices: Notices,
        mut writer: Writer,
        stop: CancellationToken,
    ) -> Ending {
        let (closed_tx, mut closed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let ending = loop {
                if let Some(ending) = ending_by(notices.next().await) {
                    break ending;
                }
            };
            let _ = closed_tx.send(ending);
        });
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ending::Stopped,
                ending = &mut closed => {
                    return ending.unwrap_or_else(|_| Ending::Failed("the notice reader stopped".to_owned()));
                }
                written = writer.write_all(batch) => {
                    if let Err(error) = written {
                        return Ending::Failed(format!("sending heartbeats: {error}"));
                    }
                    self.tally.sent(FLOOD_BATCH as u64);
                }
            }
        }
    }
}

/// The secret goes first, in a heartbeat of its own.
fn hello(local: SocketAddr, pid: u32, token: &Token) -> bytes::BytesMut {
    encode_frame(&Heartbeat {
        ip: local.ip().to_string(),
        status: Status::Alive,
        pid,
        token: Some(token.clone()),
    })
}

/// `FLOOD_BATCH` heartbeats from one client, numbered from 0: the same
/// message to the server, other bytes each.
fn numbered(ip: &str, pid: u32) -> Vec<u8> {
    (0..FLOOD_BATCH)
        .flat_map(|seq| {
            encode_frame(&serde_json::json!({
                "ip": ip, "status": Status::Alive, "pid": pid, "seq": seq,
            }))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ServerCodec;

    #[test]
    fn a_numbered_flood_is_one_client_in_frames_none_alike() {
        let batch = numbered("10.0.0.1", 7);
        let mut codec = ServerCodec::new(DEFAULT_MAX_FRAME);
        let mut buf = bytes::BytesMut::from(&batch[..]);
        let mut frames = 0;
        while let Some(run) = codec.decode_run(&mut buf, true).unwrap() {
            let hb = run.message;
            assert_eq!(run.frames, 1, "frame {frames} is the one before again");
            assert_eq!((&*hb.ip, hb.pid, hb.status), ("10.0.0.1", 7, Status::Alive));
            frames += 1;
        }
        assert_eq!(frames, FLOOD_BATCH);
    }

    #[test]
    fn bad_frame_is_a_length_prefixed_non_json_body() {
        let bad: &[u8] = b"\0\0\0\x09{not json";
        assert_eq!(
            i32::from_be_bytes(bad[..4].try_into().unwrap()) as usize,
            bad.len() - 4
        );
    }
}
