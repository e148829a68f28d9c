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

    /// Raises a failure named for `what` if the task behind `handle`
    /// panics (for the tasks a server's owner spawns beside it, such as the
    /// operator API's).
    pub fn watch(&self, what: &'static str, handle: tokio::task::JoinHandle<()>) {
        let failure = self.clone();
        tokio::spawn(async move {
            if let Err(error) = handle.await
                && error.is_panic()
            {
                failure.raise(format!("{what}: {}", join_message(error)));
            }
        });
    }

    /// The same for a thread of its own (the event hooks'): the returned
    /// handle ends when that thread has, and is what to join instead.
    pub fn watch_thread(
        &self,
        what: &'static str,
        thread: std::thread::JoinHandle<()>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let failure = self.clone();
        std::thread::Builder::new()
            .name("hbmon-watch".into())
            .spawn(move || {
                if let Err(panic) = thread.join() {
                    failure.raise(format!("{what}: {}", panic_message(&*panic)));
                }
            })
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

/// Spawns `task`, raising a failure should it panic: a server that has
/// lost its accept loop or its pacer would look alive and serve nobody.
pub(crate) fn spawn_watched<F>(failure: &Failure, what: &'static str, task: F)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    failure.watch(what, tokio::spawn(task));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_watched_task_that_panics_stops_the_server_with_its_message() {
        let stop = CancellationToken::new();
        let failure = Failure::new(stop.clone());
        spawn_watched(&failure, "accepting connections", async {
            panic!("the listener broke");
        });
        stop.cancelled().await;
        assert_eq!(
            failure.crashed(),
            Some(Crashed(
                "accepting connections: the listener broke".to_owned()
            ))
        );
    }

    #[test]
    fn a_watched_thread_that_panics_stops_the_server_with_its_message() {
        let stop = CancellationToken::new();
        let failure = Failure::new(stop.clone());
        let thread = std::thread::spawn(|| panic!("a hook's queue broke"));
        let watcher = failure.watch_thread("the event hooks", thread).unwrap();
        watcher.join().unwrap();
        assert!(stop.is_cancelled());
        assert_eq!(
            failure.crashed(),
            Some(Crashed("the event hooks: a hook's queue broke".to_owned()))
        );
    }

    #[tokio::test]
    async fn a_watched_task_that_ends_raises_nothing() {
        let stop = CancellationToken::new();
        let failure = Failure::new(stop.clone());
        let (done, ended) = tokio::sync::oneshot::channel();
        spawn_watched(&failure, "pacing", async move {
            let _ = done.send(());
        });
        ended.await.unwrap();
        tokio::task::yield_now().await;
        assert_eq!(failure.crashed(), None);
        assert!(!stop.is_cancelled());
    }
}
