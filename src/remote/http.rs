//! Requests to an operator API, over TCP (HTTP or HTTPS) or a unix socket
//! alike: one HTTP/1.1 connection a request (hyper's client), the admin
//! token on each.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

use super::sniff::{is_heartbeat_port, tap};
use crate::endpoint::{DEFAULT, Endpoint};
use crate::protocol::Token;
use crate::tls::ClientTls;

/// How long connecting and a request's head may take.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The largest JSON answer read.
const MAX_ANSWER: usize = 16 << 20;

/// Why a request to the operator API failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "cannot reach hbmon's operator API at {0}: {1} (is `hbmon serve` running with --admin {0}?)"
    )]
    Unreachable(Endpoint, String),
    #[error("cannot reach hbmon's operator API at {0} over TLS: {1}")]
    Tls(Endpoint, String),
    #[error("{0} needs the admin token: pass --token-file, or set HBMON_ADMIN_TOKEN")]
    Unauthorized(Endpoint),
    #[error("{0} answered, but is not hbmon's operator API ({1})")]
    NotHbmon(Endpoint, String),
    #[error(
        "{0} is not hbmon's operator API: it answered like a heartbeat port (serve --listen); \
         the API is at serve's --admin address ({DEFAULT} by default)"
    )]
    HeartbeatPort(Endpoint),
}

/// An operator API to send requests to.
#[derive(Clone, Debug)]
pub struct Api {
    pub endpoint: Endpoint,
    pub token: Option<Token>,
    /// Speak HTTPS, when set (TCP endpoints only).
    pub tls: Option<ClientTls>,
}

impl Api {
    /// Sends a request and returns the answer's head, its body still to
    /// be read (a stream, for `/v1/feed`). A 401 is [`ApiError::Unauthorized`];
    /// other statuses are the caller's.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response<Incoming>, ApiError> {
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, self.endpoint.host());
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, token.bearer());
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| self.unreachable(e))?;
        // Not reaching anything, and reaching something that does not speak
        // HTTP, are different mistakes with different fixes.
        let answered = tokio::time::timeout(TIMEOUT, async {
            match &self.endpoint {
                Endpoint::Tcp(addr) => match (TcpStream::connect(addr).await, &self.tls) {
                    (Ok(stream), None) => Ok(send(stream, request).await),
                    (Ok(stream), Some(tls)) => match tls.handshake(stream, &addr.to_string()).await
                    {
                        Ok(stream) => Ok(send(stream, request).await),
                        Err(error) => Ok(Err(NoAnswer::Tls(error))),
                    },
                    (Err(error), _) => Err(error),
                },
                Endpoint::Unix(path) => match UnixStream::connect(path).await {
                    Ok(stream) => Ok(send(stream, request).await),
                    Err(error) => Err(error),
                },
            }
        });
        let response = match answered.await {
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(NoAnswer::HeartbeatPort))) => {
                return Err(ApiError::HeartbeatPort(self.endpoint.clone()));
            }
            Ok(Ok(Err(NoAnswer::Tls(error)))) => {
                return Err(ApiError::Tls(self.endpoint.clone(), error.to_string()));
            }
            Ok(Ok(Err(NoAnswer::Other(error)))) => {
                return Err(self.not_hbmon(format!("no HTTP answer: {error}")));
            }
            Ok(Err(error)) => return Err(self.unreachable(error)),
            Err(_) => return Err(self.unreachable("no answer within 5s")),
        };
        if response.status() == StatusCode::UNAUTHORIZED {
            return Err(ApiError::Unauthorized(self.endpoint.clone()));
        }
        Ok(response)
    }

    /// Sends a request and reads its JSON answer; a refusal carries the
    /// API's own reason.
    pub async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, T), ApiError> {
        let (status, bytes) = self.answer(method, path, body).await?;
        serde_json::from_slice(&bytes)
            .map(|answer| (status, answer))
            .map_err(|e| self.not_hbmon(format!("HTTP {status}, {e}")))
    }

    /// Sends a request and reads its whole answer, at most [`MAX_ANSWER`]
    /// bytes.
    pub async fn answer(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ApiError> {
        let response = self.request(method, path, body).await?;
        let status = response.status();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| self.unreachable(e))?
            .to_bytes();
        Ok((status, bytes))
    }

    pub fn unreachable(&self, why: impl ToString) -> ApiError {
        ApiError::Unreachable(self.endpoint.clone(), why.to_string())
    }

    pub fn not_hbmon(&self, why: impl ToString) -> ApiError {
        ApiError::NotHbmon(self.endpoint.clone(), why.to_string())
    }
}

/// Why what answered gave no HTTP answer.
enum NoAnswer {
    /// It spoke hbmon's heartbeat protocol.
    HeartbeatPort,
    /// The TLS handshake failed (rustls says why).
    Tls(std::io::Error),
    Other(hyper::Error),
}

/// Sends one request on a fresh connection.
async fn send<S>(stream: S, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, NoAnswer>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (stream, first) = tap(stream);
    let answer = async {
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        sender.send_request(request).await
    };
    answer.await.map_err(|error| {
        if is_heartbeat_port(&first.bytes()) {
            NoAnswer::HeartbeatPort
        } else {
            NoAnswer::Other(error)
        }
    })
}
