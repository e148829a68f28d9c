//! The dashboard: a ratatui front end over the server's snapshots.
//!
//! It reads snapshots from the `watch` channel and sends commands through
//! [`Control`]; it never touches the server's state. It runs on a thread and
//! runtime of its own, because writing to a slow or paused terminal blocks:
//! that must never delay heartbeats or ticks on the server's runtime.
//!
//! Drawing happens only when a snapshot, an input or the clock changed
//! something, at most [`FRAME`] apart.

mod action;
mod column;
mod keymap;
pub mod keys;
mod list;
pub mod overlay;
mod rate;
pub mod render;
mod screen;
mod style;
mod tables;
pub mod view;
mod wrap;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event, EventStream};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use ratatui::layout::Rect;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use overlay::{KickDialog, maintained, outcome};

#[cfg(test)]
use crate::feed::Subscriber;
use crate::feed::control::Target;
use crate::feed::details::Details;
use crate::feed::{Control, Feed, Link, Snapshot};
use keys::{Action, handle_key, handle_mouse};
pub use view::Mode;
use view::ViewState;

/// At most about 30 frames a second.
const FRAME: Duration = Duration::from_millis(33);

/// Runs the dashboard on the current thread until the operator quits or the
/// feed ends. The terminal is restored on every way out, panics included.
pub fn run(feed: Feed, mode: Mode) -> Result<()> {
    let runtime = crate::front::runtime().context("starting the dashboard's runtime")?;
    // ratatui's hook restores raw mode and the screen; this one, called
    // after it, turns mouse reporting off too.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
        previous(info);
    }));
    let mut terminal = ratatui::try_init().context("setting up the terminal")?;
    let result = crossterm::execute!(std::io::stdout(), EnableMouseCapture)
        .context("enabling mouse input")
        .and_then(|()| runtime.block_on(Dashboard::new(feed, mode).run(&mut terminal)));
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

struct Dashboard {
    view: ViewState,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    link: Link,
    control: Control,
    stop: CancellationToken,
    /// Answers from commands run in the background.
    messages: (
        mpsc::UnboundedSender<Answer>,
        mpsc::UnboundedReceiver<Answer>,
    ),
}

impl Dashboard {
    fn new(feed: Feed, mode: Mode) -> Self {
        // The dashboard shows the events the snapshots carry; it does not
        // read the stream, and an unread receiver would hold the ring.
        let Feed {
            mut snapshots,
            events,
            control,
            link,
            stop,
            ..
        } = feed;
        drop(events);
        let first = snapshots.borrow_and_update().clone();
        let mut view = ViewState::new(first);
        view.mode = mode;
        view.connection = link.now();
        Dashboard {
            view,
            snapshots,
            link,
            control,
            stop,
            messages: mpsc::unbounded_channel(),
        }
    }

    async fn run(mut self, terminal: &mut DefaultTerminal) -> Result<()> {
        let mut input = EventStream::new();
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        let mut dirty = true;
        let mut last_draw = Instant::now() - FRAME;
        loop {
            if dirty && last_draw.elapsed() >= FRAME {
                // Ages and countdowns move with the clock, not only with
                // snapshots (a paused view stays as it was).
                if !self.view.paused {
                    self.view.clock = Some(SystemTime::now());
                }
                let size = terminal.size().context("reading the terminal's size")?;
                render::fit(&mut self.view, Rect::from((Default::default(), size)));
                terminal
                    .draw(|frame| render::render(frame, &self.view))
                    .context("drawing the dashboard")?;
                dirty = false;
                last_draw = Instant::now();
            }
            tokio::select! {
                _ = self.stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(last_draw + FRAME), if dirty => {}
                changed = self.snapshots.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let snapshot = self.snapshots.borrow_and_update().clone();
                    self.view.show(snapshot);
                    dirty = true;
                }
                connection = self.link.changed() => {
                    self.view.connection = connection;
                    dirty = true;
                }
                event = input.next() => {
                    let event = match event {
                        Some(event) => event.context("reading terminal input")?,
                        None => return Ok(()),
                    };
                    dirty = true;
                    let action = match event {
                        Event::Key(key) => handle_key(key, &mut self.view),
                        Event::Mouse(mouse) => {
                            handle_mouse(mouse, &mut self.view);
                            None
                        }
                        _ => None,
                    };
                    match action {
                        Some(Action::Quit) => {
                            self.stop.cancel();
                            return Ok(());
                        }
                        Some(Action::Redraw) => terminal.clear().context("clearing the terminal")?,
                        Some(Action::Kick(peers, hold)) => self.kick(peers, hold),
                        Some(Action::Maintenance(peers, length)) => self.maintain(peers, length),
                        Some(Action::Show(peer)) => self.show(peer),
                        None => {}
                    }
                }
                Some(answer) = self.messages.1.recv() => {
                    self.answer(answer);
                    dirty = true;
                }
                // "3s ago" moves even when nothing else does, and an open
                // details pane is brought up to date.
                _ = clock.tick() => {
                    if let Some((peer, _)) = self.view.details() {
                        self.show(peer);
                    }
                    dirty = true;
                }
            }
        }
    }

    /// Sends a kick without waiting for it: its outcome comes back as a
    /// message.
    fn kick(&self, peers: Vec<SocketAddr>, hold: Option<Duration>) {
        let control = self.control.clone();
        let messages = self.messages.0.clone();
        tokio::spawn(async move {
            let message = match control.kick_each(peers, "dashboard", hold).await {
                Ok(answer) => outcome(&answer),
                Err(error) => format!("kick failed: {error}"),
            };
            let _ = messages.send(Answer::Message(message));
        });
    }

    /// Starts or ends the maintenance windows of `peers` without waiting:
    /// the outcome comes back as a message.
    fn maintain(&self, peers: Vec<SocketAddr>, length: Option<Duration>) {
        let control = self.control.clone();
        let messages = self.messages.0.clone();
        tokio::spawn(async move {
            let target = Target::Peers(peers);
            let message = match control.maintenance(target, length, "dashboard").await {
                Ok(answer) => maintained(answer.clients.len(), length.is_none()),
                Err(error) => format!("maintenance failed: {error}"),
            };
            let _ = messages.send(Answer::Message(message));
        });
    }

    /// Asks for a client's story for the details pane, without waiting.
    fn show(&self, peer: SocketAddr) {
        let control = self.control.clone();
        let messages = self.messages.0.clone();
        tokio::spawn(async move {
            let answer = match control.show(peer).await {
                Ok(details) => Answer::Details(details),
                Err(error) => Answer::Gone(peer, error.to_string()),
            };
            let _ = messages.send(answer);
        });
    }

    fn answer(&mut self, answer: Answer) {
        match answer {
            Answer::Message(message) => self.view.message = Some(message),
            Answer::Details(details) => self.view.story_came(details),
            Answer::Gone(peer, why) => self.view.story_gone(peer, why),
        }
    }
}

/// What comes back from a command run in the background.
enum Answer {
    /// What a kick or a maintenance window did.
    Message(String),
    /// A client's story, for the details pane.
    Details(Details),
    /// The client whose story was asked for has gone.
    Gone(SocketAddr, String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::snapshot::Settings;
    use tokio::sync::broadcast;

    #[test]
    fn the_dashboard_holds_no_event_receiver_it_would_never_read() {
        let (events, receiver) = broadcast::channel(8);
        let settings = Settings {
            tick: Duration::from_secs(1),
            rules: Default::default(),
        };
        let first = Arc::new(Snapshot::empty(([127, 0, 0, 1], 1).into(), settings));
        let feed = Feed {
            snapshots: watch::channel(first).1,
            events: receiver,
            subscriber: Subscriber::new(&events),
            control: Control::new(mpsc::channel(1).0),
            link: Link::in_process(),
            stop: CancellationToken::new(),
        };
        let _dashboard = Dashboard::new(feed, Mode::default());
        assert_eq!(events.receiver_count(), 0);
    }
}
