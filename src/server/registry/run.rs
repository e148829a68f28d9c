//! The registry's loop: what wakes it, one step at a time, and what happens
//! when a step panics.
//!
//! Each step runs under `catch_unwind`. A panic is a bug, and the table may
//! be half updated, so the registry does not carry on as if nothing
//! happened: it raises the [`Failure`], which stops the server the normal
//! way (close frames that say why, the `stopped` line with the panic's
//! message) and makes the run end in a [`Crashed`].

use std::panic::{AssertUnwindSafe, catch_unwind};

use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

use super::{PUBLISH_EVERY, Registry};
use crate::feed::control::Command;
use crate::feed::event::EventKind;
use crate::feed::snapshot::Snapshot;
use crate::protocol::{Notice, SHUTDOWN_REASON};
use crate::server::clock;
use crate::server::failure::{Crashed, Failure, panic_message};
use crate::server::refusals;
use crate::server::report::Report;

/// What woke the registry.
#[expect(
    clippy::large_enum_variant,
    reason = "one lives on the stack for one turn of the loop; boxing would allocate"
)]
enum Step {
    Stop,
    Command(Command),
    Tick(Instant),
    Publish,
    Copied(Snapshot),
    Refusals,
    Report(Report),
}

impl Registry {
    /// Runs until the server is stopped and every connection has finished
    /// (the report channel closes when the last sender is dropped); a
    /// [`Crashed`] if it stopped for a failure.
    pub(crate) async fn run(
        mut self,
        mut reports: mpsc::Receiver<Report>,
        mut commands: mpsc::Receiver<Command>,
        failure: Failure,
    ) -> Result<(), Crashed> {
        let (listen, version) = (
            self.publisher.base.listen,
            env!("CARGO_PKG_VERSION").to_owned(),
        );
        let warnings = std::mem::take(&mut self.warnings);
        self.decider.emit(EventKind::Started {
            listen,
            version,
            warnings,
        });
        let stop = failure.token().clone();
        let every = self.decider.policy.tick;
        let first = clock::later(Instant::now(), every);
        let mut tick = tokio::time::interval_at(first, every);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut publish = tokio::time::interval(PUBLISH_EVERY);
        publish.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut refusals = tokio::time::interval(refusals::EVERY);
        refusals.set_missed_tick_behavior(MissedTickBehavior::Skip);

        loop {
            let step = tokio::select! {
                biased;
                _ = stop.cancelled(), if !self.decider.shutting_down => Step::Stop,
                Some(command) = commands.recv() => Step::Command(command),
                // Timers before reports: a flood keeps reports always ready,
                // and must not starve the tick or the snapshots.
                at = tick.tick(), if !self.decider.shutting_down => Step::Tick(at),
                _ = publish.tick(), if self.decider.changed => Step::Publish,
                Some(copy) = self.publisher.copies.recv() => Step::Copied(copy),
                _ = refusals.tick(), if self.decider.holds_refusals() => Step::Refusals,
                report = reports.recv() => match report {
                    Some(report) => Step::Report(report),
                    None => break,
                },
            };
            if !self.take(step, &failure) {
                break;
            }
        }
        self.finish(failure.crashed()).await
    }

    /// Takes one step, catching a panic in it. `false` when the registry
    /// cannot even close its clients and must end the run at once.
    fn take(&mut self, step: Step, failure: &Failure) -> bool {
        let Err(panic) = catch_unwind(AssertUnwindSafe(|| self.step(step, failure))) else {
            return true;
        };
        failure.raise(panic_message(&*panic));
        if !self.decider.shutting_down {
            // The stop comes next, and closes every client the normal way.
            return true;
        }
        // The panic came while stopping (perhaps in closing a client): what
        // is left is only told to go, with no more bookkeeping.
        let reason = farewell(failure);
        let told = catch_unwind(AssertUnwindSafe(|| {
            for client in self.decider.clients.values_mut() {
                client.link.send(Notice::close(reason.as_str()));
            }
        }));
        told.is_ok()
    }

    fn step(&mut self, step: Step, failure: &Failure) {
        match step {
            Step::Stop => self.decider.shut_down(&farewell(failure)),
            Step::Command(command) => self.command(command),
            Step::Tick(at) => self.decider.tick(at),
            Step::Publish => {
                self.publish();
            }
            Step::Copied(copy) => self.copied(copy),
            Step::Refusals => self.decider.report_refusals(),
            Step::Report(report) => self.decider.report(report),
        }
    }

    /// Every connection has finished: records the end of the run (and its
    /// failure, if any), publishes it, and syncs the journal.
    async fn finish(mut self, crashed: Option<Crashed>) -> Result<(), Crashed> {
        let listen = self.publisher.base.listen;
        let error = crashed.as_ref().map(|c| format!("internal error: {}", c.0));
        self.decider.emit(EventKind::Stopped { listen, error });
        while !self.publish() {
            let Some(copy) = self.publisher.copies.recv().await else {
                break;
            };
            self.publisher.spares.take(copy);
        }
        if let Some(journal) = self.decider.record.journal.take() {
            // Writes out and syncs what is queued: nothing decided is lost.
            let _ = tokio::task::spawn_blocking(move || journal.close()).await;
        }
        crashed.map_or(Ok(()), Err)
    }
}

/// What clients are told as the server stops: why, if it failed.
fn farewell(failure: &Failure) -> String {
    failure
        .crashed()
        .map_or_else(|| SHUTDOWN_REASON.to_owned(), |c| c.to_string())
}
