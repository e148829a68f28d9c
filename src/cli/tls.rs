//! The TLS flags: `serve`'s certificate, key, client CA and modes, and the
//! clients' `--tls`, CA, certificate and server name, shared by `client`,
//! `simulate`, `bench` and `top`; what `serve --check` says of the
//! server's files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Result, bail};
use clap::Args;

use hbmon::tls::inspect::{self, Inspected};
use hbmon::tls::{ClientFiles, ClientTls, Mode, ServerFiles, ServerTls};

/// `serve`'s TLS: one certificate for the heartbeat port and the operator API.
#[derive(Args)]
pub struct TlsArgs {
    /// Serve TLS on the heartbeat port and the operator API with this
    /// certificate (PEM, the server's own first, then its chain); the file is
    /// checked every few seconds and a new one used for new connections.
    #[arg(long, value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// Clients must present a certificate signed by this CA (mutual TLS); a
    /// verified certificate stands in for the shared token, and its DNS or
    /// URI name, else its common name, is shown as the client's identity.
    #[arg(long, value_name = "PATH")]
    pub client_ca: Option<PathBuf>,
    /// With --tls-cert: `required` closes a plaintext client with the
    /// reason; `optional` serves plaintext and TLS clients on the same port
    /// (default: required).
    #[arg(long, value_enum, value_name = "MODE")]
    pub tls_mode: Option<TlsMode>,
    /// With --tls-cert: `off` keeps the operator API in clear (for an API on
    /// loopback or a unix socket, which never speaks TLS).
    #[arg(long, value_enum, default_value_t = Switch::On)]
    pub admin_tls: Switch,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    Required,
    Optional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

impl TlsArgs {
    /// The server's TLS these flags ask for, its files read, if any.
    pub fn setup(&self) -> Result<Option<Arc<ServerTls>>> {
        let Some((cert, key)) = self.pair()? else {
            return Ok(None);
        };
        let files = ServerFiles {
            cert: cert.to_owned(),
            key: key.to_owned(),
            client_ca: self.client_ca.clone(),
        };
        let mode = match self.tls_mode {
            Some(TlsMode::Optional) => Mode::Optional,
            Some(TlsMode::Required) | None => Mode::Required,
        };
        Ok(Some(Arc::new(ServerTls::load(files, mode)?)))
    }

    /// The certificate and key files, which go together; `None` without
    /// TLS. (Checked here rather than by clap's `requires`, which panics
    /// when the config file gives one of them.)
    fn pair(&self) -> Result<Option<(&Path, &Path)>> {
        const TOGETHER: &str = "--tls-cert and --tls-key go together: give both or neither";
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => Ok(Some((cert, key))),
            (None, None) => {
                if self.client_ca.is_some() || self.tls_mode.is_some() {
                    bail!("--client-ca and --tls-mode are for TLS: give --tls-cert and --tls-key");
                }
                Ok(None)
            }
            (Some(_), None) => bail!("--tls-cert needs --tls-key ({TOGETHER})"),
            (None, Some(_)) => bail!("--tls-key needs --tls-cert ({TOGETHER})"),
        }
    }

    /// What `--check` says of the TLS files, a line each: an unreadable,
    /// unparsable, mismatched or expired file is an error naming it.
    pub fn check(&self, now: SystemTime) -> Result<Vec<String>> {
        let mut checked: Vec<(&str, &Path, Inspected)> = Vec::new();
        if let Some((cert, key)) = self.pair()? {
            // The leaf is what clients check; the rest of a chain is theirs.
            let leaf = inspect::pair(cert, key)?.into_iter().next();
            checked.extend(leaf.map(|leaf| ("--tls-cert", cert, leaf)));
        }
        if let Some(ca) = &self.client_ca {
            let authorities = inspect::certificates(ca)?.into_iter();
            checked.extend(authorities.map(|cert| ("--client-ca", ca.as_path(), cert)));
        }
        let mut lines = Vec::new();
        for (flag, file, cert) in checked {
            if cert.expired(now) {
                bail!("{flag} {}: {}", file.display(), cert.expiry_text(now));
            }
            lines.push(format!(
                "{flag} {}: subject \"{}\", identity {}, {}",
                file.display(),
                cert.subject,
                cert.identity.as_deref().unwrap_or("-"),
                cert.expiry_text(now)
            ));
        }
        Ok(lines)
    }

    /// Whether the operator API is served in clear: without a certificate,
    /// or with `--admin-tls off`.
    pub fn admin_in_clear(&self) -> bool {
        self.tls_cert.is_none() || self.admin_tls == Switch::Off
    }
}

/// A client's TLS: whether to speak it, and with what.
#[derive(Args, Clone, Default)]
pub struct ClientTlsArgs {
    /// Speak TLS to the server.
    #[arg(long)]
    pub tls: bool,
    /// The CA that signed the server's certificate (PEM); without it, the
    /// machine's trusted roots.
    #[arg(long, value_name = "PATH")]
    pub ca: Option<PathBuf>,
    /// This client's certificate (PEM), for a server that asks for one
    /// (serve --client-ca).
    #[arg(long, value_name = "PATH")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
    /// The name the server's certificate must be valid for (default: the
    /// host of --server).
    #[arg(long, value_name = "NAME")]
    pub server_name: Option<String>,
}

impl ClientTlsArgs {
    /// The client's TLS, its files read, when `--tls` asks for it; `server`
    /// is where it connects, whose host the certificate must name unless
    /// `--server-name` says otherwise.
    pub fn load(&self, server: &str) -> Result<Option<ClientTls>> {
        client_tls(
            self.tls,
            &self.files(),
            self.server_name.as_deref(),
            "--tls",
            server,
        )
    }

    fn files(&self) -> ClientFiles {
        ClientFiles {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        }
    }
}

/// `top`'s TLS files, used when `--connect` says https.
#[derive(Args, Clone, Default)]
pub struct TopTlsArgs {
    /// With --connect https://...: the CA that signed the API's certificate
    /// (PEM); without it, the machine's trusted roots.
    #[arg(long, value_name = "PATH")]
    pub ca: Option<PathBuf>,
    /// With --connect https://...: this viewer's certificate (PEM), for a
    /// server with --client-ca.
    #[arg(long, value_name = "PATH")]
    pub cert: Option<PathBuf>,
    /// The private key of --cert (PEM).
    #[arg(long, value_name = "PATH")]
    pub key: Option<PathBuf>,
}

impl TopTlsArgs {
    /// The viewer's TLS for a server reached at `https` (its host), if any.
    pub fn load(&self, https: Option<&str>) -> Result<Option<ClientTls>> {
        let files = ClientFiles {
            ca: self.ca.clone(),
            cert: self.cert.clone(),
            key: self.key.clone(),
        };
        let host = https;
        let switch = "--connect https://HOST:PORT";
        client_tls(host.is_some(), &files, host, switch, "")
    }
}

/// The client's TLS when `on`; a file given without it is a mistake, named.
fn client_tls(
    on: bool,
    files: &ClientFiles,
    server_name: Option<&str>,
    switch: &str,
    server: &str,
) -> Result<Option<ClientTls>> {
    if !on {
        if *files != ClientFiles::default() || server_name.is_some() {
            bail!("--ca, --cert, --key and --server-name are for TLS: add {switch}");
        }
        return Ok(None);
    }
    let name = server_name.unwrap_or_else(|| hbmon::tls::host(server));
    Ok(Some(ClientTls::load(files, Some(name))?))
}
