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
mod pace;
mod rate;
pub mod render;
mod screen;
mod servers;
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

use crate::feed::control::Target;
use crate::feed::details::Details;
use crate::feed::merged::{Key, Part};
use crate::feed::sources::{self, Source, Sources};
use crate::feed::{Connection, Control, Feed};
#[cfg(test)]
use crate::feed::{Link, Snapshot, Subscriber};
use keys::{Action, handle_key, handle_mouse};
use pace::Pace;
pub use view::Mode;
use view::ViewState;

/// At most about 30 frames a second.
const FRAME: Duration = Duration::from_millis(33);

/// Runs the dashboard of one feed (`serve`'s own, `top` of one server) on
/// the current thread until the operator quits or the feed ends: a fleet
/// of one.
pub fn run(feed: Feed, mode: Mode) -> Result<()> {
    let stop = feed.stop.clone();
    run_fleet(Sources::one(Source::of("", "", false, feed), stop), mode)
}

/// Runs the dashboard over `sources` on the current thread until the
/// operator quits or the feeds end. The terminal is restored on every way
/// out, panics included.
pub fn run_fleet(sources: Sources, mode: Mode) -> Result<()> {
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
        .and_then(|()| runtime.block_on(Dashboard::new(sources, mode).run(&mut terminal)));
    let _ = crossterm::execute!(std::io::stdout(), DisableMouseCapture);
    ratatui::restore();
    result
}

struct Dashboard {
    view: ViewState,
    /// The set of servers, as it changes.
    list: watch::Receiver<Vec<Source>>,
    /// The servers followed now, in the view's order.
    sources: Vec<Source>,
    stop: CancellationToken,
    /// When the snapshots that came are taken in.
    pace: Pace,
    /// Answers from commands run in the background.
    messages: (
        mpsc::UnboundedSender<Answer>,
        mpsc::UnboundedReceiver<Answer>,
    ),
}

impl Dashboard {
    fn new(sources: Sources, mode: Mode) -> Self {
        let Sources { mut list, stop } = sources;
        let sources = list.borrow_and_update().clone();
        let mut view = ViewState::of(parts(&sources, &[]));
        view.mode = mode;
        Dashboard {
            view,
            list,
            sources,
            stop,
            pace: Pace::new(FRAME),
            messages: mpsc::unbounded_channel(),
        }
    }

    async fn run(mut self, terminal: &mut DefaultTerminal) -> Result<()> {
        let mut input = EventStream::new();
        let mut clock = tokio::time::interval(Duration::from_secs(1));
        let mut dirty = true;
        let mut last_draw = Instant::now() - FRAME;
        loop {
            if self.pace.ready() {
                self.take_in();
                dirty = true;
            }
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
            let due = self.pace.due();
            tokio::select! {
                _ = self.stop.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(last_draw + FRAME), if dirty => {}
                _ = tokio::time::sleep_until(due.unwrap_or(last_draw)), if due.is_some() => {}
                (index, goes_on) = sources::any_changed(&mut self.sources) => {
                    match self.source_changed(index, goes_on) {
                        None => return Ok(()),
                        Some(redraw) => dirty |= redraw,
                    }
                }
                Ok(()) = self.list.changed() => {
                    self.servers_changed();
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
                        Some(Action::Kick(keys, hold)) => self.kick(keys, hold),
                        Some(Action::Maintenance(keys, length)) => self.maintain(keys, length),
                        Some(Action::Show(key)) => self.show(key),
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
                    if let Some((key, _)) = self.view.details() {
                        self.show(key.clone());
                    }
                    dirty = true;
                }
            }
        }
    }

    /// The `index`-th server's snapshot or link changed: its link (and
    /// version) show at once, its snapshot when the pace says. Whether to
    /// redraw; `None` when the dashboard should end (the feed of its only
    /// server has ended).
    fn source_changed(&mut self, index: usize, goes_on: bool) -> Option<bool> {
        if !goes_on {
            if self.sources.len() == 1 {
                return None;
            }
            // The others go on; this one keeps its last picture.
            let gone = self.sources.remove(index);
            if let Some(part) = self.view.fleet().find(&gone.name) {
                let ended = Connection::Lost("its feed ended".to_owned());
                self.view.set_connection(part, ended);
            }
            return Some(true);
        }
        self.pace.came();
        let source = &self.sources[index];
        let connection = source.link.now();
        let version = source.version.borrow().clone();
        let Some(part) = self.view.fleet().find(&source.name) else {
            return Some(false);
        };
        let shown = &self.view.fleet().parts()[part];
        let redraw = shown.connection != connection || shown.version != version;
        self.view.set_connection(part, connection);
        self.view.set_version(part, version);
        Some(redraw)
    }

    /// Takes in every server's latest snapshot, and paces the next time by
    /// what this one cost.
    fn take_in(&mut self) {
        let started = Instant::now();
        let latest = (self.sources.iter())
            .map(|s| (Arc::clone(&s.name), s.snapshots.borrow().clone()))
            .collect();
        self.view.take(latest);
        self.pace.took(started);
    }

    /// Servers came or went: follow the new set, keeping what is on screen
    /// of those that stay.
    fn servers_changed(&mut self) {
        self.sources = self.list.borrow_and_update().clone();
        let parts = parts(&self.sources, self.view.fleet().parts());
        self.view.set_parts(parts);
    }

    /// Sends each kick to the server that holds the client, without
    /// waiting: the outcome (each server's, when there are several) comes
    /// back as a message.
    fn kick(&self, keys: Vec<Key>, hold: Option<Duration>) {
        self.ask_owners(keys, move |control, peers| async move {
            match control.kick_each(peers, "dashboard", hold).await {
                Ok(answer) => outcome(&answer),
                Err(error) => format!("kick failed: {error}"),
            }
        });
    }

    /// Starts or ends the maintenance windows of these clients, each on
    /// its own server, without waiting: the outcome comes back as a message.
    fn maintain(&self, keys: Vec<Key>, length: Option<Duration>) {
        self.ask_owners(keys, move |control, peers| async move {
            let target = Target::Peers(peers);
            match control.maintenance(target, length, "dashboard").await {
                Ok(answer) => maintained(answer.clients.len(), length.is_none()),
                Err(error) => format!("maintenance failed: {error}"),
            }
        });
    }

    /// Asks each server holding some of `keys` about its own clients, all
    /// at once, and reports the answers as one message (each named by its
    /// server when there are several).
    fn ask_owners<F, A>(&self, keys: Vec<Key>, ask: F)
    where
        F: Fn(Control, Vec<SocketAddr>) -> A + Send + 'static,
        A: Future<Output = String> + Send,
    {
        let mut by_server: Vec<(Arc<str>, Control, Vec<SocketAddr>)> = Vec::new();
        for key in keys {
            match by_server.iter_mut().find(|(name, ..)| *name == key.server) {
                Some((.., peers)) => peers.push(key.peer),
                None => {
                    let Some(source) = self.sources.iter().find(|s| s.name == key.server) else {
                        continue;
                    };
                    by_server.push((key.server, source.control.clone(), vec![key.peer]));
                }
            }
        }
        let messages = self.messages.0.clone();
        let several = by_server.len() > 1;
        tokio::spawn(async move {
            let asks = by_server.into_iter().map(|(name, control, peers)| {
                let said = ask(control, peers);
                async move {
                    let said = said.await;
                    if several {
                        format!("{name}: {said}")
                    } else {
                        said
                    }
                }
            });
            let said = futures_util::future::join_all(asks).await;
            let _ = messages.send(Answer::Message(said.join("; ")));
        });
    }

    /// Asks the client's server for its story for the details pane,
    /// without waiting.
    fn show(&self, key: Key) {
        let Some(source) = self.sources.iter().find(|s| s.name == key.server) else {
            return;
        };
        let control = source.control.clone();
        let messages = self.messages.0.clone();
        tokio::spawn(async move {
            let answer = match control.show(key.peer).await {
                Ok(details) => Answer::Details(details),
                Err(error) => Answer::Gone(key, error.to_string()),
            };
            let _ = messages.send(answer);
        });
    }

    fn answer(&mut self, answer: Answer) {
        match answer {
            Answer::Message(message) => self.view.message = Some(message),
            Answer::Details(details) => self.view.story_came(details),
            Answer::Gone(key, why) => self.view.story_gone(&key, why),
        }
    }
}

/// The view's parts for `sources`: a server already on screen keeps its
/// last picture and state (in `shown`); a new one starts from its feed's.
fn parts(sources: &[Source], shown: &[Part]) -> Vec<Part> {
    let now = SystemTime::now();
    sources
        .iter()
        .map(|source| {
            let kept = shown.iter().find(|p| p.name == source.name);
            let mut part = match kept {
                Some(part) => part.clone(),
                None => Part::local(source.snapshots.borrow().clone()),
            };
            part.name = Arc::clone(&source.name);
            part.address = Arc::clone(&source.address);
            part.read_only = source.read_only;
            part.version = source.version.borrow().clone();
            part.connect(source.link.now(), now);
            part
        })
        .collect()
}

/// What comes back from a command run in the background.
enum Answer {
    /// What a kick or a maintenance window did.
    Message(String),
    /// A client's story, for the details pane.
    Details(Details),
    /// The client whose story was asked for has gone.
    Gone(Key, String),
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
        let stop = feed.stop.clone();
        let sources = Sources::one(Source::of("", "", false, feed), stop);
        let _dashboard = Dashboard::new(sources, Mode::default());
        assert_eq!(events.receiver_count(), 0);
    }
}
