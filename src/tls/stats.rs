//! What TLS has cost and refused, counted where it happens (a connection's
//! own task, the reloader) and read by `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Cause;
use super::inspect::Expiry;

#[derive(Debug, Default)]
pub struct TlsStats {
    /// Indexed by [`Cause`] as `usize`.
    failures: [AtomicU64; Cause::ALL.len()],
    reloads: AtomicU64,
    reload_failures: AtomicU64,
    /// The expiry of the serving pair in force, set at each load.
    certificate: Expiry,
}

impl TlsStats {
    pub(crate) fn failed(&self, cause: Cause) {
        self.failures[cause as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub(super) fn reloaded(&self, ok: bool) {
        let count = if ok {
            &self.reloads
        } else {
            &self.reload_failures
        };
        count.fetch_add(1, Ordering::Relaxed);
    }

    /// Connections refused for this cause.
    pub fn failures(&self, cause: Cause) -> u64 {
        self.failures[cause as usize].load(Ordering::Relaxed)
    }

    /// When the serving certificate in force lapses, in seconds since the
    /// Unix epoch.
    pub fn certificate_expiry(&self) -> Option<i64> {
        self.certificate.not_after()
    }

    pub(super) fn certificate(&self) -> &Expiry {
        &self.certificate
    }

    /// Certificate pairs put in force since the start, and replacements refused.
    pub fn reloads(&self) -> (u64, u64) {
        (
            self.reloads.load(Ordering::Relaxed),
            self.reload_failures.load(Ordering::Relaxed),
        )
    }
}
