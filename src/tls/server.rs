//! The server's TLS configuration, built from `--tls-cert`, `--tls-key` and
//! `--client-ca`, and kept fresh: the files are checked every few seconds,
//! and a pair that loads replaces the old for the connections that come
//! next (a connection keeps the configuration it shook hands with). A pair
//! that does not load leaves the old one in force; either way the server is
//! told, to report it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, Result};
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use tokio_util::sync::CancellationToken;

use super::{TlsStats, inspect, pem, provider};

/// How often the files are checked for a change.
pub const RELOAD_EVERY: Duration = Duration::from_secs(2);

/// Whether a plaintext client is served on a TLS port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// TLS only: a plaintext client is closed with the reason.
    Required,
    /// Both, told apart by the first byte, so a fleet can move to TLS
    /// client by client.
    Optional,
}

/// The files the server's configuration is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Clients must present a certificate this CA signed (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

/// The configuration in force, and what TLS has refused so far.
#[derive(Debug)]
pub struct ServerTls {
    files: ServerFiles,
    mode: Mode,
    current: RwLock<Arc<ServerConfig>>,
    /// The files as they were when `current` was read from them.
    loaded: Stamps,
    stats: Arc<TlsStats>,
}

/// What a check of the files came to, when they had changed.
#[derive(Debug)]
pub enum Reload {
    /// The new pair is in force.
    Loaded,
    /// The new files do not load; the old pair stays in force.
    Failed(String),
}

impl ServerTls {
    /// Reads the files: any error names the file and what is wrong with it.
    pub fn load(files: ServerFiles, mode: Mode) -> Result<ServerTls> {
        let loaded = Stamps::of(&files);
        let (config, chain) = build_and_inspect(&files)?;
        let stats = Arc::<TlsStats>::default();
        stats.certificate().loaded(&chain);
        Ok(ServerTls {
            files,
            mode,
            current: RwLock::new(Arc::new(config)),
            loaded,
            stats,
        })
    }

    /// The configuration a new connection shakes hands with.
    pub fn config(&self) -> Arc<ServerConfig> {
        match self.current.read() {
            Ok(current) => Arc::clone(&current),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether clients must present a certificate (`--client-ca`): a
    /// verified certificate then stands in for the shared token.
    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }

    pub fn files(&self) -> &ServerFiles {
        &self.files
    }

    pub fn stats(&self) -> Arc<TlsStats> {
        Arc::clone(&self.stats)
    }

    fn replace(&self, config: ServerConfig) {
        let config = Arc::new(config);
        match self.current.write() {
            Ok(mut current) => *current = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }
}

/// Checks the files every `RELOAD_EVERY` until `stop`, reloading them when
/// they change and telling `told` how that went.
pub async fn keep_fresh<F>(
    tls: Arc<ServerTls>,
    stop: CancellationToken,
    mut told: impl FnMut(Reload) -> F,
) where
    F: Future<Output = ()>,
{
    let mut seen = tls.loaded.clone();
    let mut every = tokio::time::interval(RELOAD_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let now = Stamps::of(&tls.files);
        if now == seen {
            continue;
        }
        seen = now;
        let files = tls.files.clone();
        // Reading and parsing files blocks: not on the server's runtime threads.
        let built = tokio::task::spawn_blocking(move || build_and_inspect(&files)).await;
        let reload = match built {
            Ok(Ok((config, chain))) => {
                tls.replace(config);
                tls.stats.certificate().loaded(&chain);
                Reload::Loaded
            }
            Ok(Err(error)) => Reload::Failed(format!("{error:#}")),
            Err(error) => Reload::Failed(format!("the reload failed: {error}")),
        };
        tls.stats.reloaded(matches!(reload, Reload::Loaded));
        told(reload).await;
    }
}

/// The configuration, and the chain as inspected for the expiry `/metrics`
/// shows (empty, leaving the old expiry, if it cannot be inspected).
fn build_and_inspect(files: &ServerFiles) -> Result<(ServerConfig, Vec<inspect::Inspected>)> {
    let config = build(files)?;
    let chain = inspect::pair(&files.cert, &files.key).unwrap_or_default();
    Ok((config, chain))
}

/// The rustls configuration the files describe.
fn build(files: &ServerFiles) -> Result<ServerConfig> {
    let certs = pem::certificates(&files.cert, "certificate file (--tls-cert)")?;
    let key = pem::private_key(&files.key, "key file (--tls-key)")?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS provider offers no protocol version")?;
    let builder = match &files.client_ca {
        Some(path) => {
            let roots = pem::roots(path, "client CA file (--client-ca)")?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .with_context(|| format!("the client CA file {} is unusable", path.display()))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    builder.with_single_cert(certs, key).with_context(|| {
        format!(
            "cannot use the key {} with the certificate {}",
            files.key.display(),
            files.cert.display()
        )
    })
}

/// What tells one version of a file from the next: a file replaced (a new
/// inode) or rewritten in place (a new length or modification time).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Stamps(Vec<Option<Stamp>>);

/// A file's device, inode, length and modification time (seconds, nanoseconds).
type Stamp = (u64, u64, u64, i64, i64);

impl Stamps {
    fn of(files: &ServerFiles) -> Stamps {
        let paths = [
            Some(&files.cert),
            Some(&files.key),
            files.client_ca.as_ref(),
        ];
        Stamps(paths.into_iter().flatten().map(|p| stamp(p)).collect())
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some((
        meta.dev(),
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
    ))
}
