//! The API's connections: accepted on a loop of its own, capped and timed,
//! so that however many connections are opened to it and however slowly
//! they speak, the API never takes the file descriptors the heartbeat port
//! needs. Each connection holds a permit of a semaphore, as mini-redis caps
//! its connections; at the cap a few more are accepted only to answer
//! `/healthz` and to refuse the rest with a 503 that says why, and beyond
//! those a connection is closed at once rather than left to hang in the
//! kernel's queue.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tower_service::Service;

use super::activity::{Activity, Timeouts, Watched};
use super::guard::Arrival;
use super::{ApiError, MAX_BODY};
use crate::endpoint::Listener;
use crate::tls::{Cause, ServerTls};
use tokio_rustls::TlsAcceptor;

/// Connections accepted beyond the cap, each for one request: `/healthz`
/// is answered, anything else refused with the reason.
pub const OVERFLOW: usize = 8;

/// A connection beyond the cap may take this long at most to send its
/// request, so that idle ones free their place quickly.
const OVERFLOW_HEAD_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a request in hand may take to finish once the server stops.
const STOP_GRACE: Duration = Duration::from_secs(1);

/// How many connections the API holds, and how long they may idle.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub timeouts: Timeouts,
}

/// Where a connection stands against the cap.
enum Place {
    /// Within the cap: served in full, for as long as its timeouts allow.
    Within,
    /// Beyond it: `/healthz` or a 503, then closed.
    Beyond,
}

/// Accepts connections on `listener` until `stop`, over TLS on TCP when
/// `tls` is set; the listener (and a unix socket's file, if still ours)
/// goes when this returns.
pub async fn run(
    listener: Listener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<ServerTls>>,
    stop: CancellationToken,
) {
    let within = Arc::new(Semaphore::new(limits.max_connections));
    let beyond = Arc::new(Semaphore::new(OVERFLOW));
    let mut backoff = Duration::from_millis(10);
    loop {
        let accepted = tokio::select! {
            () = stop.cancelled() => return,
            accepted = accept(&listener) => accepted,
        };
        let (stream, arrival) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors, most likely: wait for some to
                // be freed rather than spin.
                tracing::warn!("operator API: accept failed: {error}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        backoff = Duration::from_millis(10);
        let (place, permit) = match Arc::clone(&within).try_acquire_owned() {
            Ok(permit) => (Place::Within, permit),
            Err(_) => match Arc::clone(&beyond).try_acquire_owned() {
                Ok(permit) => (Place::Beyond, permit),
                // Dropped, so closed: refused at once, not left to hang.
                Err(_) => continue,
            },
        };
        let connection = Connection {
            app: app.clone(),
            arrival,
            place,
            limits,
            stop: stop.clone(),
            _permit: permit,
        };
        match (stream, &tls) {
            (Stream::Tcp(stream), Some(tls)) => {
                tokio::spawn(connection.serve_tls(stream, Arc::clone(tls)))
            }
            (Stream::Tcp(stream), None) => tokio::spawn(connection.serve(stream)),
            (Stream::Unix(stream), _) => tokio::spawn(connection.serve(stream)),
        };
    }
}

enum Stream {
    Tcp(tokio::net::TcpStream),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<(Stream, Arrival)> {
    match listener {
        Listener::Tcp(listener) => {
            let (stream, _) = listener.accept().await?;
            let local = stream.local_addr()?;
            Ok((Stream::Tcp(stream), Arrival::Tcp(local)))
        }
        Listener::Unix(socket) => {
            let (stream, _) = socket.listener().accept().await?;
            Ok((Stream::Unix(stream), Arrival::Unix))
        }
    }
}

/// One accepted connection and what it may take.
struct Connection {
    app: Router,
    arrival: Arrival,
    place: Place,
    limits: Limits,
    stop: CancellationToken,
    _permit: OwnedSemaphorePermit,
}

impl Connection {
    /// Shakes hands (on this connection's task, within the head timeout),
    /// then serves HTTPS; a failed handshake is counted by its cause.
    async fn serve_tls(self, stream: tokio::net::TcpStream, tls: Arc<ServerTls>) {
        let accept = TlsAcceptor::from(tls.config()).accept(stream);
        match tokio::time::timeout(self.limits.timeouts.head, accept).await {
            Ok(Ok(stream)) => self.serve(stream).await,
            Ok(Err(error)) => tls.stats().failed(Cause::of_handshake(&error)),
            Err(_) => tls.stats().failed(Cause::Timeout),
        }
    }

    /// Serves HTTP/1.1 on `stream` until the peer is done, a timeout
    /// passes, or the server stops; dropping the connection closes it.
    async fn serve<S>(self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let timeouts = match self.place {
            Place::Within => self.limits.timeouts,
            Place::Beyond => self.limits.timeouts.at_most(OVERFLOW_HEAD_TIMEOUT),
        };
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
        let mut builder = http1::Builder::new();
        builder.keep_alive(matches!(self.place, Place::Within));
        let service = Answer {
            app: self.app,
            arrival: self.arrival,
            body_timeout: timeouts.head,
            refuse_at: matches!(self.place, Place::Beyond).then_some(self.limits.max_connections),
            activity: Arc::clone(&activity),
        };
        let connection =
            builder.serve_connection(io, hyper::service::service_fn(move |r| service.call(r)));
        let mut connection = std::pin::pin!(connection);
        loop {
            let deadline = activity.deadline(&timeouts);
            let expiry = tokio::time::sleep_until(deadline.unwrap_or_else(Instant::now));
            tokio::select! {
                _ = connection.as_mut() => return,
                () = self.stop.cancelled() => break,
                () = activity.changed() => {}
                () = expiry, if deadline.is_some() => {
                    if activity.timed_out(&timeouts) {
                        return;
                    }
                }
            }
        }
        connection.as_mut().graceful_shutdown();
        let _ = tokio::time::timeout(STOP_GRACE, connection).await;
    }
}

/// Answers a connection's requests through the router, keeping its
/// [`Activity`] up to date.
#[derive(Clone)]
struct Answer {
    app: Router,
    arrival: Arrival,
    /// How long a request's body may take to arrive, as its head may.
    body_timeout: Duration,
    /// Beyond the cap (of this many): everything but `/healthz` is refused.
    refuse_at: Option<usize>,
    activity: Arc<Activity>,
}

impl Answer {
    fn call(
        &self,
        mut request: Request<Incoming>,
    ) -> impl Future<Output = Result<Response<Body>, std::convert::Infallible>> + use<> {
        let busy = self.activity.begin();
        request.extensions_mut().insert(self.arrival);
        let refusal = self
            .refuse_at
            .filter(|_| request.uri().path() != "/healthz")
            .map(at_cap);
        let mut app = self.app.clone();
        let body_timeout = self.body_timeout;
        async move {
            let response = match refusal {
                Some(refusal) => refusal,
                None => match whole(request, body_timeout).await {
                    Ok(request) => app.call(request).await?,
                    Err(refusal) => refusal.into_response(),
                },
            };
            // The connection is busy until the body is sent in full (a
            // stream for as long as it lasts): the frames carry the marker.
            Ok(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _ = &busy;
                    frame
                }))
            }))
        }
    }
}

/// The request with its body read in full within `limit`: no timeout runs
/// while a request is answered, so a body sent slowly would otherwise hold
/// its connection's place for ever.
async fn whole(request: Request<Incoming>, limit: Duration) -> Result<Request<Body>, ApiError> {
    let (parts, body) = request.into_parts();
    let read = Limited::new(body, MAX_BODY).collect();
    match tokio::time::timeout(limit, read).await {
        Ok(Ok(body)) => Ok(Request::from_parts(parts, Body::from(body.to_bytes()))),
        Ok(Err(error)) if error.is::<LengthLimitError>() => Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY} bytes"),
        )),
        Ok(Err(error)) => Err(ApiError::bad(format!("the body: {error}"))),
        Err(_) => Err(ApiError(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the body did not arrive within {} (--admin-head-timeout)",
                humantime::format_duration(limit)
            ),
        )),
    }
}

/// The 503 a request beyond the cap gets.
fn at_cap(max: usize) -> Response<Body> {
    let reason = format!(
        "the operator API is at its cap of {max} connections (--admin-max-connections); try again when one closes"
    );
    let mut response = ApiError(StatusCode::SERVICE_UNAVAILABLE, reason).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}
