//! TLS for the heartbeat port, the operator API and every client: the PEM
//! files read into rustls configurations (ring provider), the server's
//! pair kept fresh as its files change, the client's connector, and the one
//! stream type that is either plain TCP or TLS over it.
//!
//! It knows nothing of the server or the feed: the server asks it for the
//! configuration to hand a new connection, and is told when the files were
//! reloaded; front ends read its [`TlsStats`].

mod cause;
mod client;
pub mod identity;
pub mod inspect;
mod pem;
mod server;
mod stats;
mod stream;

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

pub use cause::{Cause, rustls_error};
pub use client::{ClientFiles, ClientTls, dial, host};
pub use server::{Mode, Reload, ServerFiles, ServerTls, keep_fresh};
pub use stats::TlsStats;
pub use stream::{ClientStream, ServerStream, Stream};

/// The one crypto provider every configuration is built with.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
