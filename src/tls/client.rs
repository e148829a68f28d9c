//! The client's side: `--tls [--ca FILE] [--cert FILE --key FILE]
//! [--server-name NAME]`, one connector shared by `client`, `simulate`,
//! `bench` and `top`. Without `--ca`, the machine's own trusted roots are
//! read (from its certificate store on disk: nothing is fetched).

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::{ClientStream, Stream, pem, provider};

/// The files a client's configuration is read from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientFiles {
    /// The CA the server's certificate must be signed by; the machine's
    /// trusted roots when `None`.
    pub ca: Option<PathBuf>,
    /// The client's own certificate and key, for a server that asks for
    /// one (`serve --client-ca`).
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

/// A client's TLS settings, ready to connect with.
#[derive(Clone)]
pub struct ClientTls {
    connector: TlsConnector,
    /// The name the server's certificate must be valid for; the host the
    /// client connects to when `None`.
    server_name: Option<ServerName<'static>>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Reads the files: any error names the file and what is wrong with it.
    pub fn load(files: &ClientFiles, server_name: Option<&str>) -> Result<ClientTls> {
        let roots = match &files.ca {
            Some(path) => pem::roots(path, "CA file (--ca)")?,
            None => system_roots()?,
        };
        let builder = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .context("the TLS provider offers no protocol version")?
            .with_root_certificates(roots);
        let config = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => {
                let chain = pem::certificates(cert, "certificate file (--cert)")?;
                let private = pem::private_key(key, "key file (--key)")?;
                builder
                    .with_client_auth_cert(chain, private)
                    .with_context(|| {
                        format!(
                            "cannot use the key {} with the certificate {}",
                            key.display(),
                            cert.display()
                        )
                    })?
            }
            (None, None) => builder.with_no_client_auth(),
            _ => bail!("--cert and --key go together: give both or neither"),
        };
        let server_name = server_name.map(parse_name).transpose()?;
        Ok(ClientTls {
            connector: TlsConnector::from(Arc::new(config)),
            server_name,
        })
    }

    /// Shakes hands over `tcp` with the server at `server` (`host:port`),
    /// whose certificate must be valid for `--server-name`, else the host.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        server: &str,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let name = match &self.server_name {
            Some(name) => name.clone(),
            None => parse_name(host(server))
                .map_err(|error| io::Error::new(io::ErrorKind::InvalidInput, error.to_string()))?,
        };
        self.connector.connect(name, tcp).await
    }
}

/// Connects to `server` (`host:port`), over TLS when `tls` is set; a failed
/// handshake says so, with rustls's reason (a certificate for another name,
/// an unknown issuer).
pub async fn dial(server: &str, tls: Option<&ClientTls>) -> io::Result<ClientStream> {
    let tcp = TcpStream::connect(server).await?;
    // Heartbeats are tiny: Nagle would only delay them.
    let _ = tcp.set_nodelay(true);
    match tls {
        None => Ok(Stream::Plain(tcp)),
        Some(tls) => match tls.handshake(tcp, server).await {
            Ok(stream) => Ok(Stream::Tls(Box::new(stream))),
            Err(error) => Err(io::Error::new(
                error.kind(),
                format!("TLS handshake failed: {error}"),
            )),
        },
    }
}

/// The host of `host:port` (`[::1]:port` too), as a certificate names it.
pub fn host(server: &str) -> &str {
    let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn parse_name(name: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(name.to_owned())
        .map_err(|_| anyhow::anyhow!("'{name}' is not a server name (a DNS name or an IP address)"))
}

/// The roots the machine trusts, from its certificate store.
fn system_roots() -> Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found.errors.first().map(ToString::to_string);
        bail!(
            "no trusted roots found on this machine{}: pass the server's CA with --ca",
            why.map(|why| format!(" ({why})")).unwrap_or_default()
        );
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::host;

    #[test]
    fn the_host_is_what_comes_before_the_port() {
        assert_eq!(host("server.example:14000"), "server.example");
        assert_eq!(host("10.0.0.1:14000"), "10.0.0.1");
        assert_eq!(host("[::1]:14000"), "::1");
        assert_eq!(host("server.example"), "server.example");
    }
}
