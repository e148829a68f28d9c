//! `serve`'s TLS flags, what `--check` says of their files, and the
//! warning for an operator API whose token would cross the network in
//! clear.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::{Result, bail};
use clap::Args;

use hbmon::tls::inspect::{self, Expiry, Inspected};

/// TLS on the heartbeat port and the operator API: the certificate the
/// server presents, and whom it admits.
#[derive(Args)]
pub struct TlsArgs {
    /// PEM certificate chain the server presents (heartbeat port and
    /// operator API); with --tls-key, turns TLS on.
    #[arg(long, value_name = "PATH")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "PATH")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: clients must present a certificate signed by one
    /// (mutual TLS); its DNS or URI name, else its common name, is shown as
    /// the client's identity.
    #[arg(long, value_name = "PATH")]
    pub client_ca: Option<PathBuf>,
    /// With --tls-cert: required (TLS clients only) or optional (TLS and
    /// plaintext clients on the same port, to move a fleet over).
    #[arg(long, value_enum, default_value_t = TlsMode::Required)]
    pub tls_mode: TlsMode,
    /// With --tls-cert: on serves the operator API over TLS too; off keeps it
    /// in clear (for an API on loopback or a unix socket).
    #[arg(long, value_enum, default_value_t = AdminTls::On)]
    pub admin_tls: AdminTls,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TlsMode {
    Required,
    Optional,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AdminTls {
    On,
    Off,
}

impl TlsArgs {
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

    /// The certificate and key files, which go together; `None` without
    /// TLS. (Checked here rather than by clap's `requires`, which the config
    /// file's key-by-key check cannot follow.)
    fn pair(&self) -> Result<Option<(&Path, &Path)>> {
        match (&self.tls_cert, &self.tls_key, &self.client_ca) {
            (Some(cert), Some(key), _) => Ok(Some((cert, key))),
            (None, None, None) => Ok(None),
            (None, None, Some(_)) => {
                bail!("--client-ca needs --tls-cert and --tls-key: mutual TLS is TLS first")
            }
            (Some(_), None, _) => {
                bail!("--tls-cert needs --tls-key, the certificate's private key")
            }
            (None, Some(_), _) => {
                bail!("--tls-key needs --tls-cert, the certificate it is the key of")
            }
        }
    }

    /// The serving certificate's expiry, for `/metrics` (the TLS loader
    /// updates it on each reload); `None` without TLS.
    pub fn expiry(&self) -> Result<Option<Arc<Expiry>>> {
        let Some((cert, key)) = self.pair()? else {
            return Ok(None);
        };
        let expiry = Expiry::default();
        expiry.loaded(&inspect::pair(cert, key)?);
        Ok(Some(Arc::new(expiry)))
    }

    /// Whether the operator API is served in clear: without a certificate,
    /// or with `--admin-tls off`.
    pub fn admin_in_clear(&self) -> bool {
        self.tls_cert.is_none() || self.admin_tls == AdminTls::Off
    }
}
