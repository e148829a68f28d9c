//! `GET /v1/feed`: the snapshots a remote dashboard (`hbmon top`) shows, as
//! [`wire`] frames: the whole snapshot first, then what changed since the
//! frame before. One task per viewer, which diffs and encodes on the
//! blocking pool, sends at most [`FRAMES_PER_SECOND`], and skips straight to
//! the newest snapshot when the viewer is slow: a viewer costs the server
//! what changes, never a queue.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use tokio::sync::mpsc;
use tokio_util::codec::{Encoder, LengthDelimitedCodec};

use super::Shared;
use crate::feed::{Snapshot, wire};

/// Frames a viewer gets at most: a quarter of a second behind at worst.
const FRAMES_PER_SECOND: u32 = 4;

pub(super) async fn feed(State(api): Shared) -> Response {
    let (frames, body) = mpsc::channel::<Result<Bytes, Infallible>>(1);
    let snapshots = api.snapshots.clone();
    tokio::spawn(send(snapshots, frames));
    let body = futures_util::stream::unfold(body, |mut body| async move {
        body.recv().await.map(|frame| (frame, body))
    });
    (
        [(header::CONTENT_TYPE, wire::CONTENT_TYPE)],
        Body::from_stream(body),
    )
        .into_response()
}

/// Sends frames until the viewer goes away or the server stops.
async fn send(
    mut snapshots: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    frames: mpsc::Sender<Result<Bytes, Infallible>>,
) {
    let gap = Duration::from_secs(1) / FRAMES_PER_SECOND;
    let mut sent: Option<Arc<Snapshot>> = None;
    loop {
        let now = snapshots.borrow_and_update().clone();
        let previous = sent.take();
        let next = Arc::clone(&now);
        let frame = tokio::task::spawn_blocking(move || {
            let mut framed = BytesMut::new();
            let body = Bytes::from(wire::encode(previous.as_deref(), &next));
            LengthDelimitedCodec::new()
                .encode(body, &mut framed)
                .map(|()| framed.freeze())
        })
        .await;
        let Ok(Ok(frame)) = frame else { return };
        if frames.send(Ok(frame)).await.is_err() {
            return;
        }
        sent = Some(now);
        tokio::time::sleep(gap).await;
        if snapshots.changed().await.is_err() {
            return;
        }
    }
}
