//! PEM files, read with a bound on their size and an error that names the
//! file and what was wrong with it.

use std::io::Read;
use std::path::Path;

use anyhow::{Context, Result, bail};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The largest PEM file read: a chain of a few certificates, or a CA bundle
/// such as a system's, is far smaller.
pub(super) const MAX_PEM: u64 = 1 << 20;

/// Why a PEM file's bytes were not read.
pub(super) enum Unread {
    Io(std::io::Error),
    /// Over [`MAX_PEM`].
    TooLarge,
}

/// The file's bytes, refused past [`MAX_PEM`]: the one bounded read of the
/// TLS files, for the server's loader and for `--check`'s inspection.
pub(super) fn bounded(path: &Path) -> Result<Vec<u8>, Unread> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_PEM + 1).read_to_end(&mut bytes))
        .map_err(Unread::Io)?;
    if bytes.len() as u64 > MAX_PEM {
        return Err(Unread::TooLarge);
    }
    Ok(bytes)
}

/// The file's bytes, or an error naming it as the `what`.
fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    match bounded(path) {
        Ok(bytes) => Ok(bytes),
        Err(Unread::Io(error)) => {
            Err(error).with_context(|| format!("cannot read the {what} {}", path.display()))
        }
        Err(Unread::TooLarge) => bail!(
            "the {what} {} is over {} KiB: not a PEM file",
            path.display(),
            MAX_PEM / 1024
        ),
    }
}

/// Every certificate in the file, in order (a chain: the leaf first).
pub(super) fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("the {what} {} is not valid PEM", path.display()))?;
    if certs.is_empty() {
        bail!(
            "the {what} {} holds no certificate (a PEM block BEGIN CERTIFICATE)",
            path.display()
        );
    }
    Ok(certs)
}

/// The private key in the file (PKCS#8, PKCS#1 or SEC1).
pub(super) fn private_key(path: &Path, what: &str) -> Result<PrivateKeyDer<'static>> {
    let bytes = read(path, what)?;
    PrivateKeyDer::from_pem_slice(&bytes).with_context(|| {
        format!(
            "the {what} {} holds no private key (a PEM block BEGIN PRIVATE KEY)",
            path.display()
        )
    })
}

/// The certificates in the file as trust anchors.
pub(super) fn roots(path: &Path, what: &str) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(path, what)? {
        roots
            .add(cert)
            .with_context(|| format!("the {what} {} holds a bad certificate", path.display()))?;
    }
    Ok(roots)
}
