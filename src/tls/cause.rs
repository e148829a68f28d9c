//! Why a connection was refused at the TLS layer: a small fixed set, for
//! the `/metrics` label and for reporting each cause at most once a second;
//! the reason in the event says the rest in words.

use std::io;

use rustls::{CertificateError, Error};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A plaintext client on a port that requires TLS.
    Plaintext,
    /// The handshake was not done within the hello timeout.
    Timeout,
    /// The peer hung up half way through the handshake.
    Incomplete,
    /// Mutual TLS, and the client sent no certificate.
    NoCertificate,
    /// The client's certificate is not signed by `--client-ca`.
    UntrustedCertificate,
    /// The client's certificate has expired, or is not valid yet.
    ExpiredCertificate,
    /// The client refused the server's certificate (for another name, or
    /// from a CA it does not trust) and said so with an alert.
    RefusedByClient,
    /// What arrived is not a TLS handshake rustls can complete.
    Protocol,
    /// After the handshake, a record that does not decrypt or parse.
    BadRecord,
}

impl Cause {
    pub const ALL: [Cause; 9] = [
        Cause::Plaintext,
        Cause::Timeout,
        Cause::Incomplete,
        Cause::NoCertificate,
        Cause::UntrustedCertificate,
        Cause::ExpiredCertificate,
        Cause::RefusedByClient,
        Cause::Protocol,
        Cause::BadRecord,
    ];

    /// Its name as a metric label and in events.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Plaintext => "plaintext",
            Cause::Timeout => "timeout",
            Cause::Incomplete => "incomplete",
            Cause::NoCertificate => "no_certificate",
            Cause::UntrustedCertificate => "untrusted_certificate",
            Cause::ExpiredCertificate => "expired_certificate",
            Cause::RefusedByClient => "refused_by_client",
            Cause::Protocol => "protocol",
            Cause::BadRecord => "bad_record",
        }
    }

    /// The cause of a failed handshake, from the error tokio-rustls gave.
    pub fn of_handshake(error: &io::Error) -> Cause {
        match rustls_error(error) {
            Some(error) => Cause::of_rustls(error),
            // An early end of file, a reset: the peer went away.
            None => Cause::Incomplete,
        }
    }

    fn of_rustls(error: &Error) -> Cause {
        match error {
            Error::NoCertificatesPresented => Cause::NoCertificate,
            Error::InvalidCertificate(
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. },
            ) => Cause::ExpiredCertificate,
            Error::InvalidCertificate(_) => Cause::UntrustedCertificate,
            Error::AlertReceived(_) => Cause::RefusedByClient,
            _ => Cause::Protocol,
        }
    }
}

/// The rustls error an I/O error carries, if it carries one: how TLS
/// failures surface through tokio-rustls's streams.
pub fn rustls_error(error: &io::Error) -> Option<&Error> {
    error.get_ref()?.downcast_ref::<Error>()
}
