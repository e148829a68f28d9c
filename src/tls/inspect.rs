//! What the TLS files hold, read without trusting them: for `serve
//! --check` (readable, parse, the key matches the certificate, when it
//! expires) and for the `/metrics` expiry gauge, which whoever loads the
//! serving certificate (at start and at each reload) sets through
//! [`Expiry`].
//!
//! Every failure names the file and what is wrong with it. A file is read
//! whole but only up to `pem::MAX_PEM` bytes, so pointing a flag at a disk
//! image is an error, not an exhausted memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::feed::wire::LATEST_MS;
use crate::tls::identity::identity;
use crate::tls::pem::{self, MAX_PEM, Unread};

/// Why a TLS file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("cannot read {}: {error}", .file.display())]
    Read {
        file: PathBuf,
        error: std::io::Error,
    },
    #[error("{} is larger than {MAX_PEM} bytes: not a PEM file", .file.display())]
    TooLarge { file: PathBuf },
    #[error("{} is not PEM: {reason}", .file.display())]
    Pem { file: PathBuf, reason: String },
    #[error("{} holds no {what} (a -----BEGIN {label}----- block)", .file.display())]
    Missing {
        file: PathBuf,
        what: &'static str,
        label: &'static str,
    },
    #[error("{}: certificate {number} does not parse: {reason}", .file.display())]
    Certificate {
        file: PathBuf,
        number: usize,
        reason: String,
    },
    #[error("{}: not a private key TLS can use: {reason}", .file.display())]
    Key { file: PathBuf, reason: String },
    #[error("the key in {} does not match the certificate in {}", .key.display(), .cert.display())]
    Mismatch { cert: PathBuf, key: PathBuf },
}

/// One certificate, as an operator checks it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Inspected {
    /// The subject's distinguished name (`CN=web-7, O=prod`).
    pub subject: String,
    /// What the dashboard would show for a client holding it.
    pub identity: Option<String>,
    /// When it lapses, in seconds since the Unix epoch (negative before).
    pub not_after: i64,
}

impl Inspected {
    /// `not_after` as a time, if it is one RFC 3339 can write (1970 to the
    /// year 9999): a certificate may say 1950.
    pub fn expires(&self) -> Option<SystemTime> {
        let secs = u64::try_from(self.not_after).ok()?;
        (secs <= LATEST_MS / 1000).then(|| SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// `expires 2027-03-01T00:00:00Z (in 87 days)`, or that it has expired,
    /// as of `now`.
    pub fn expiry_text(&self, now: SystemTime) -> String {
        let word = if self.expired(now) {
            "EXPIRED"
        } else {
            "expires"
        };
        let Some(at) = self.expires() else {
            return format!("{word} at {} s since the Unix epoch", self.not_after);
        };
        let date = humantime::format_rfc3339_seconds(at);
        let days = |d: Duration| d.as_secs() / 86_400;
        match at.duration_since(now) {
            Ok(left) => format!("{word} {date} (in {} days)", days(left)),
            Err(past) => format!("{word} {date} ({} days ago)", days(past.duration())),
        }
    }

    /// Whether it has lapsed as of `now`.
    pub fn expired(&self, now: SystemTime) -> bool {
        let now = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        self.not_after <= now
    }
}

/// The certificates in `file` (a chain, or a CA bundle), in order.
pub fn certificates(file: &Path) -> Result<Vec<Inspected>, InspectError> {
    parsed_chain(file, &read(file)?)?
        .iter()
        .enumerate()
        .map(|(i, der)| inspect(file, i + 1, der))
        .collect()
}

/// The serving pair: the chain in `cert`, and the key in `key`, which must
/// be the first certificate's.
pub fn pair(cert: &Path, key: &Path) -> Result<Vec<Inspected>, InspectError> {
    let chain = parsed_chain(cert, &read(cert)?)?;
    let inspected = chain
        .iter()
        .enumerate()
        .map(|(i, der)| inspect(cert, i + 1, der))
        .collect::<Result<Vec<_>, _>>()?;
    let der = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|error| match error {
        rustls_pki_types::pem::Error::NoItemsFound => InspectError::Missing {
            file: key.to_owned(),
            what: "private key",
            label: "PRIVATE KEY",
        },
        other => InspectError::Pem {
            file: key.to_owned(),
            reason: other.to_string(),
        },
    })?;
    let signing = any_supported_type(&der).map_err(|error| InspectError::Key {
        file: key.to_owned(),
        reason: error.to_string(),
    })?;
    let certified = CertifiedKey::new(chain, signing);
    if certified.keys_match().is_err() {
        return Err(InspectError::Mismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
        });
    }
    Ok(inspected)
}

/// Reads at most `pem::MAX_PEM` bytes of `file`.
fn read(file: &Path) -> Result<Vec<u8>, InspectError> {
    pem::bounded(file).map_err(|unread| match unread {
        Unread::Io(error) => InspectError::Read {
            file: file.to_owned(),
            error,
        },
        Unread::TooLarge => InspectError::TooLarge {
            file: file.to_owned(),
        },
    })
}

/// The certificates of a PEM file; at least one.
fn parsed_chain(file: &Path, pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, InspectError> {
    let chain = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| InspectError::Pem {
            file: file.to_owned(),
            reason: error.to_string(),
        })?;
    if chain.is_empty() {
        return Err(InspectError::Missing {
            file: file.to_owned(),
            what: "certificate",
            label: "CERTIFICATE",
        });
    }
    Ok(chain)
}

/// The `number`th certificate of `file`.
fn inspect(
    file: &Path,
    number: usize,
    der: &CertificateDer<'_>,
) -> Result<Inspected, InspectError> {
    let (_, cert) =
        X509Certificate::from_der(der.as_ref()).map_err(|error| InspectError::Certificate {
            file: file.to_owned(),
            number,
            reason: error.to_string(),
        })?;
    Ok(Inspected {
        subject: cert.subject().to_string(),
        identity: identity(der),
        not_after: cert.validity().not_after.timestamp(),
    })
}

/// The serving certificate's expiry, shared by whoever loads the
/// certificate and `/metrics`, which shows it so an alert can fire before
/// it lapses.
#[derive(Debug)]
pub struct Expiry(AtomicI64);

/// What [`Expiry`] holds before any certificate is loaded.
const NO_CERTIFICATE: i64 = i64::MIN;

impl Default for Expiry {
    fn default() -> Self {
        Expiry(AtomicI64::new(NO_CERTIFICATE))
    }
}

impl Expiry {
    /// A certificate was loaded: its leaf is the first of `chain`.
    pub fn loaded(&self, chain: &[Inspected]) {
        if let Some(leaf) = chain.first() {
            self.0.store(leaf.not_after, Ordering::Relaxed);
        }
    }

    /// When the loaded certificate lapses, in seconds since the Unix epoch.
    pub fn not_after(&self) -> Option<i64> {
        Some(self.0.load(Ordering::Relaxed)).filter(|&at| at != NO_CERTIFICATE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lapsing(not_after: i64) -> Inspected {
        Inspected {
            subject: "CN=x".to_owned(),
            identity: None,
            not_after,
        }
    }

    #[test]
    fn expiry_is_told_in_days_either_side_of_now_and_never_panics() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 * 86_400);
        let soon = lapsing(1_010 * 86_400);
        assert_eq!(
            soon.expiry_text(now),
            "expires 1972-10-07T00:00:00Z (in 10 days)"
        );
        assert!(!soon.expired(now));
        let past = lapsing(990 * 86_400);
        assert_eq!(
            past.expiry_text(now),
            "EXPIRED 1972-09-17T00:00:00Z (10 days ago)"
        );
        assert!(past.expired(now));
        // Times a certificate may hold but RFC 3339 cannot write: told in
        // seconds, never a panic.
        assert_eq!(
            lapsing(-86_400).expiry_text(now),
            "EXPIRED at -86400 s since the Unix epoch"
        );
        assert_eq!(
            lapsing(i64::MAX).expiry_text(now),
            format!("expires at {} s since the Unix epoch", i64::MAX)
        );
        assert!(lapsing(i64::MIN).expired(now) && !lapsing(i64::MAX).expired(now));
    }

    #[test]
    fn the_expiry_gauge_holds_the_leaf_of_the_latest_pair_loaded() {
        let expiry = Expiry::default();
        assert_eq!(expiry.not_after(), None);
        expiry.loaded(&[lapsing(100), lapsing(50)]);
        assert_eq!(expiry.not_after(), Some(100));
        expiry.loaded(&[]);
        assert_eq!(
            expiry.not_after(),
            Some(100),
            "an empty chain changes nothing"
        );
        expiry.loaded(&[lapsing(200)]);
        assert_eq!(expiry.not_after(), Some(200));
    }

    proptest::proptest! {
        /// A certificate with any one bit flipped is inspected or refused
        /// with its file named, never a panic (the subject's text and the
        /// expiry included).
        #[test]
        fn a_flipped_bit_is_inspected_or_refused(at in 0usize..2048, bit in 0u8..8) {
            static GOOD: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
            let good = GOOD.get_or_init(|| {
                let key = rcgen::KeyPair::generate().unwrap();
                let params = rcgen::CertificateParams::new(vec!["a.example".to_owned()]).unwrap();
                params.self_signed(&key).unwrap().der().to_vec()
            });
            let mut bytes = good.clone();
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            let now = SystemTime::now();
            match inspect(Path::new("flipped.pem"), 1, &CertificateDer::from(bytes)) {
                Ok(cert) => {
                    let _ = (cert.subject.len(), cert.expiry_text(now), cert.expired(now));
                }
                Err(error) => proptest::prop_assert!(error.to_string().contains("flipped.pem")),
            }
        }
    }
}
