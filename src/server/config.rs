//! The server's settings, as `serve` parses them from its flags. They reach
//! the accept loop and the registry by this one route.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::liveness::{Detector, Rules};
use crate::protocol::{DEFAULT_MAX_FRAME, Token};
pub use crate::server::gaps::GapRecording;
pub use crate::server::guard::{DEFAULT_CLOSE_RATE, GuardConfig};
use crate::server::pacer;
use crate::tls::ServerTls;

#[derive(Clone, Debug)]
pub struct Config {
    pub tick: Duration,
    pub rules: Rules,
    /// How many clients, and how large their frames.
    pub limits: Limits,
    /// Closed clients remembered.
    pub history: usize,
    /// The batching window (see `server::pacer`); zero turns it off.
    pub batch_window: Duration,
    /// A client that sends no valid heartbeat this long after connecting
    /// is closed.
    pub hello_timeout: Duration,
    /// A client that leaves part of a frame unfinished this long is closed.
    pub frame_timeout: Duration,
    /// The shared secret every connection's first heartbeat must carry.
    pub token: Option<Token>,
    /// Where to append every decision, if anywhere.
    pub journal: Option<PathBuf>,
    /// The silence guard and the close rate.
    pub guard: GuardConfig,
    /// The failure detector.
    pub detector: Detector,
    /// Where to record every client's heartbeat gaps, if anywhere.
    pub record_gaps: Option<GapRecording>,
    /// Where the operator API listens, for front ends to show (the API is
    /// served beside the server, by `front::api`).
    pub admin: Option<String>,
    /// TLS on the heartbeat port (`--tls-cert`, `--tls-key`, `--client-ca`,
    /// `--tls-mode`).
    pub tls: Option<Arc<ServerTls>>,
    /// What `serve` warned the operator of, kept in the `started` event
    /// (and so in the journal) as well as printed.
    pub warnings: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tick: Duration::from_secs(1),
            rules: Rules::default(),
            limits: Limits::default(),
            history: 1000,
            batch_window: pacer::DEFAULT_WINDOW,
            hello_timeout: Duration::from_secs(10),
            frame_timeout: Duration::from_secs(10),
            token: None,
            journal: None,
            guard: GuardConfig::default(),
            detector: Detector::Counter,
            record_gaps: None,
            admin: None,
            tls: None,
            warnings: Vec::new(),
        }
    }
}

/// What the accept loop admits.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_clients: usize,
    /// Most connections from one source address; 0 for no limit.
    pub max_per_ip: usize,
    pub max_frame: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_clients: 10_000,
            max_per_ip: 0,
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}
