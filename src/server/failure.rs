//! How a server stops for an internal error: a panic in the registry, or in
//! a front end whose owner raises it. (A panic in one connection's task is
//! not one: it closes that connection only, so no peer can stop the server
//! by finding a bug in reading its bytes.)
//!
//! A panic is a bug, and the server cannot know what else it broke, so it
//! stops; but it stops the normal way: every client gets a close frame
//! that says why, the journal its `stopped` line with the panic's message,
//! and [`Server::stopped`](crate::server::Server::stopped) reports a
//! [`Crashed`], so the process exits non-zero and a supervisor restarts it.

use std::any::Any;
use std::sync::{Arc, OnceLock};

use tokio_util::sync::CancellationToken;

/// Why a server stopped on its own.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("server stopped: internal error: {0}")]
pub struct Crashed(pub String);

/// Raises a server's first internal error and stops it. Cheap to clone,
/// and callable from any thread (a front end's, say).
#[derive(Clone, Debug)]
pub struct Failure {
    first: Arc<OnceLock<String>>,
    stop: CancellationToken,
}

impl Failure {
    pub(crate) fn new(stop: CancellationToken) -> Failure {
        Failure {
            first: Arc::default(),
            stop,
        }
    }

    /// Records `message` (unless an earlier failure was) and stops the
    /// server.
    pub fn raise(&self, message: String) {
        let _ = self.first.set(message);
        self.stop.cancel();
    }

    /// Cancelled when the server stops, for a failure or not.
    pub(crate) fn token(&self) -> &CancellationToken {
        &self.stop
    }

    /// The first failure raised, if any.
    pub(crate) fn crashed(&self) -> Option<Crashed> {
        self.first.get().cloned().map(Crashed)
    }
}

/// What a task's end says: the panic's message, or why it was cancelled.
pub fn join_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(panic) => panic_message(&*panic),
        Err(error) => error.to_string(),
    }
}

/// What a panic said: its message, when it has one.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    match payload.downcast_ref::<&str>() {
        Some(message) => (*message).to_owned(),
        None => payload
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_else(|| "a panic with no message".to_owned()),
    }
}
