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

use crate::fleet::failover::{Backoff, Departure, Rotation};
pub use crate::fleet::mix::{Behaviour, Mix};
use crate::fleet::tally::Ending;
pub use crate::fleet::tally::{Counts, Summary, Tally};
use crate::protocol::{
    ClientCodec, DEFAULT_MAX_FRAME, FrameError, Heartbeat, Notice, SHUTDOWN_REASON, Status, Token,
    encode_frame,
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
    /// Client `i` starts on server `i mod n`, and fails over to the others.
    pub servers: Vec<SocketAddr>,
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
    /// Connects and speaks for this client; with several servers, starts on
    /// its own in turn and fails over as `hbmon client --reconnect` does,
    /// giving up only when a whole round of them could not be reached.
    async fn run(self, connecting: tokio::sync::OwnedSemaphorePermit, stop: CancellationToken) {
        let several = self.plan.servers.len() > 1;
        let mut servers = Rotation::new(order(&self.plan.servers, self.index), 0, several);
        let mut backoff = Backoff::new();
        let mut connecting = Some(connecting);
        let mut moved = false;
        loop {
            let server = servers.current().to_string();
            let stream = tokio::select! {
                stream = crate::tls::dial(&server, self.plan.tls.as_ref()) => stream,
                _ = stop.cancelled() => return self.stopped_away(moved),
            };
            connecting.take();
            let departure = match stream {
                Err(error) if !several || servers.last_of_round() => {
                    return self.refused(error.to_string(), &stop);
                }
                Err(_) => Departure::Gone,
                Ok(stream) => {
                    servers.took();
                    if moved {
                        self.tally.reconnected();
                    } else {
                        self.tally.connected(self.behaviour);
                    }
                    let Left { ending, then } = self.converse(stream, stop.clone()).await;
                    match then.filter(|_| several) {
                        Some(departure) => {
                            self.tally.moved();
                            departure
                        }
                        None => return self.tally.ended(self.behaviour, ending),
                    }
                }
            };
            moved = true;
            let wait = servers.leave(departure, &mut backoff, Instant::now());
            tokio::select! {
                _ = tokio::time::sleep(wait.unwrap_or_default()) => {}
                _ = stop.cancelled() => return self.stopped_away(moved),
            }
        }
    }

    /// It could not connect: counted, and when no client of the fleet ever
    /// has, the fleet stops joining.
    fn refused(&self, error: String, stop: &CancellationToken) {
        self.tally.ended(self.behaviour, Ending::Refused(error));
        if self.tally.unreachable().is_some() {
            stop.cancel();
        }
    }

    /// The fleet stopped while this client was between servers.
    fn stopped_away(&self, moved: bool) {
        if moved {
            self.tally.stopped_away(self.behaviour);
        }
    }

    /// Speaks for this client until the server closes it, it ends by its
    /// behaviour, or `stop` is cancelled: the token first if the plan has
    /// one, then a flood or one heartbeat per tick.
    async fn converse(&self, stream: ClientStream, stop: CancellationToken) -> Left {
        let local = match stream.tcp().local_addr() {
            Ok(local) => local,
            Err(error) => return Left::gone(Ending::Failed(error.to_string())),
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
            return Left::gone(Ending::Failed(format!("sending the token: {error}")));
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
    ) -> Left {
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
                _ = stop.cancelled() => return Ending::Stopped.into(),
                notice = notices.next() => if let Some(left) = left_by(notice) {
                    return left;
                },
                _ = ticker.tick() => {
                    let frame = match self.at_tick(heartbeat, sent, started.elapsed()) {
                        Tick::Send(frame) => frame,
                        Tick::Skip => continue,
                        Tick::HangUp => {
                            // Abrupt: a reset, not a goodbye.
                            let stream = notices.into_inner().unsplit(writer);
                            let _ = stream.tcp().set_zero_linger();
                            return Ending::HungUp.into();
                        }
                    };
                    if let Err(error) = writer.write_all(frame).await {
                        return Left::gone(Ending::Failed(format!("sending a heartbeat: {error}")));
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

/// How a client left its server, and where that sends it when it has
/// others: `then` is `None` when it ends there (by its behaviour, a kick,
/// a close for a cause, the fleet's stop).
struct Left {
    ending: Ending,
    then: Option<Departure>,
}

impl Left {
    /// The server went away under it.
    fn gone(ending: Ending) -> Left {
        Left {
            ending,
            then: Some(Departure::Gone),
        }
    }
}

impl From<Ending> for Left {
    fn from(ending: Ending) -> Left {
        Left { ending, then: None }
    }
}

/// How a client leaves on what its notice stream gave, if it does: a close
/// notice, the server hanging up, or an unreadable stream. Other notices
/// leave it running. A shutdown, a hang-up and a refusal at the door send
/// it to another server; other closes (a kick, a timeout, a bad frame) end
/// it, as they end a real client.
fn left_by(notice: Option<Result<Notice, FrameError>>) -> Option<Left> {
    match notice {
        Some(Ok(notice)) if notice.status != Status::Close => None,
        Some(Ok(notice)) => {
            let then = if notice.reason == SHUTDOWN_REASON {
                Some(Departure::Gone)
            } else {
                match Departure::after_close(&notice) {
                    Departure::HeldOff(_) => None,
                    full => Some(full),
                }
            };
            let ending = Ending::ClosedByServer(Some(notice.reason));
            Some(Left { ending, then })
        }
        None => Some(Left::gone(Ending::ClosedByServer(None))),
        Some(Err(error)) => {
            let ending = Ending::Failed(format!("reading from the server: {error}"));
            Some(if error.is_protocol_violation() {
                ending.into()
            } else {
                Left::gone(ending)
            })
        }
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
    ) -> Left {
        let (closed_tx, mut closed) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let left = loop {
                if let Some(left) = left_by(notices.next().await) {
                    break left;
                }
            };
            let _ = closed_tx.send(left);
        });
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ending::Stopped.into(),
                left = &mut closed => {
                    return left.unwrap_or_else(|_| Ending::Failed("the notice reader stopped".to_owned()).into());
                }
                written = writer.write_all(batch) => {
                    if let Err(error) = written {
                        return Left::gone(Ending::Failed(format!("sending heartbeats: {error}")));
                    }
                    self.tally.sent(FLOOD_BATCH as u64);
                }
            }
        }
    }
}

/// The servers in the order client `index` tries them: its own share's
/// first (round-robin), then the others in an order of its own, so the
/// clients of a server that goes away spread over the rest instead of all
/// landing on the next one.
fn order(servers: &[SocketAddr], index: usize) -> Vec<SocketAddr> {
    let mut order = servers.to_vec();
    if order.is_empty() {
        return order;
    }
    order.rotate_left(index % servers.len());
    fastrand::Rng::with_seed(index as u64).shuffle(&mut order[1..]);
    order
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
    fn clients_start_round_robin_and_a_server_s_clients_fail_over_spread_out() {
        let servers: Vec<SocketAddr> = (1..=5)
            .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
            .collect();
        let mut next_of_first = [0usize; 6];
        for index in (0..1000).step_by(5) {
            let order = order(&servers, index);
            assert_eq!(order[0], servers[0], "client {index} starts on its share");
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, servers, "every server once");
            next_of_first[usize::from(order[1].port())] += 1;
        }
        assert_eq!(order(&servers, 7)[0], servers[2]);
        for (port, n) in next_of_first.iter().enumerate().skip(2) {
            assert!((30..=70).contains(n), "{n} of 200 go to server {port} next");
        }
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
