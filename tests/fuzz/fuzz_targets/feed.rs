//! What `hbmon top` decodes from a server: arbitrary bytes cut into the
//! feed's frames, each applied to a replica (a bad one starts a new replica,
//! as a reconnect does), and the last snapshot drawn on a screen of the
//! dashboard. Nothing may panic; nothing announced may be reserved.
#![no_main]

use bytes::BytesMut;
use hbmon::feed::wire::Replica;
use hbmon::front::tui::render::{fit, render};
use hbmon::front::tui::view::{Screen, ViewState};
use hbmon::remote::FeedFrames;
use libfuzzer_sys::fuzz_target;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio_util::codec::Decoder;

const MAX_FRAME: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let mut codec = FeedFrames::new(MAX_FRAME);
    let mut buf = BytesMut::from(data);
    let mut replica = Replica::default();
    let mut last = None;
    while let Ok(Some(frame)) = codec.decode(&mut buf) {
        match replica.apply(&frame) {
            Ok((snapshot, _events)) => last = Some(snapshot),
            Err(_) => replica = Replica::default(),
        }
    }
    assert!(
        buf.capacity() <= data.len().max(64),
        "reserved {}",
        buf.capacity()
    );
    let Some(snapshot) = last else {
        return;
    };
    // One screen an input, picked by its length: every screen gets inputs
    // at a third of the cost of drawing all three.
    let mut view = ViewState::new(snapshot);
    view.screen = [Screen::Live, Screen::History, Screen::Events][data.len() % 3];
    let mut terminal = Terminal::new(TestBackend::new(100, 30)).expect("a test terminal");
    terminal
        .draw(|frame| {
            fit(&mut view, frame.area());
            render(frame, &view)
        })
        .expect("drawn");
});
