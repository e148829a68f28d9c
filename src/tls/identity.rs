//! Who a client's certificate says it is: the name the dashboard, the API,
//! the events and the journal show beside the ip the client claims.
//!
//! The certificate has been verified against `--client-ca` by the time it
//! gets here, but its text is still the peer's: it is parsed without trust
//! (any bytes give a name or `None`, never a panic), cut to
//! [`IDENTITY_MAX`] bytes, and escaped by `printable` wherever it is shown.

use rustls_pki_types::CertificateDer;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

/// The longest identity kept, in bytes: a DNS name is at most 253, and a
/// URI naming a workload (`spiffe://…`) fits well within this.
pub const IDENTITY_MAX: usize = 256;

/// The certificate's first DNS or URI subject alternative name, else its
/// common name; `None` when it has none of them or does not parse.
pub fn identity(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(cert.as_ref()).ok()?;
    alternative_name(&cert)
        .or_else(|| common_name(&cert))
        .and_then(bounded)
}

/// The first DNS or URI name, in the order the certificate lists them.
fn alternative_name<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a str> {
    let names = cert.subject_alternative_name().ok()??;
    names
        .value
        .general_names
        .iter()
        .find_map(|name| match name {
            GeneralName::DNSName(name) | GeneralName::URI(name) => Some(*name),
            _ => None,
        })
}

fn common_name<'a>(cert: &'a X509Certificate<'_>) -> Option<&'a str> {
    cert.subject()
        .iter_common_name()
        .find_map(|cn| cn.as_str().ok())
}

/// `name` cut to [`IDENTITY_MAX`] bytes on a character boundary; `None`
/// when nothing is left to show.
pub fn bounded(name: &str) -> Option<String> {
    let name = name.trim();
    let mut end = name.len().min(IDENTITY_MAX);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    (end > 0).then(|| name[..end].to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rcgen::{CertificateParams, DistinguishedName, DnType, KeyPair, SanType};

    /// A self-signed certificate with these alternative names and common name.
    fn cert(sans: Vec<SanType>, cn: Option<&str>) -> CertificateDer<'static> {
        let mut params = CertificateParams::default();
        params.subject_alt_names = sans;
        let mut dn = DistinguishedName::new();
        if let Some(cn) = cn {
            dn.push(DnType::CommonName, cn);
        }
        params.distinguished_name = dn;
        let key = KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().clone()
    }

    fn dns(name: &str) -> SanType {
        SanType::DnsName(name.try_into().unwrap())
    }

    #[test]
    fn the_first_dns_name_wins_over_the_common_name() {
        let c = cert(vec![dns("web-7.prod"), dns("other")], Some("cn-name"));
        assert_eq!(identity(&c).as_deref(), Some("web-7.prod"));
    }

    #[test]
    fn a_uri_name_is_an_identity() {
        let uri = SanType::URI("spiffe://prod/web".try_into().unwrap());
        let ip = SanType::IpAddress([10, 0, 0, 7].into());
        let c = cert(vec![ip, uri], Some("cn-name"));
        assert_eq!(identity(&c).as_deref(), Some("spiffe://prod/web"));
    }

    #[test]
    fn without_alternative_names_the_common_name_is_used() {
        let ip = SanType::IpAddress([10, 0, 0, 7].into());
        assert_eq!(
            identity(&cert(vec![], Some("worker 3"))).as_deref(),
            Some("worker 3")
        );
        assert_eq!(
            identity(&cert(vec![ip], Some("worker 3"))).as_deref(),
            Some("worker 3")
        );
    }

    #[test]
    fn a_certificate_without_a_name_has_no_identity() {
        assert_eq!(identity(&cert(vec![], None)), None);
        assert_eq!(identity(&cert(vec![], Some("  "))), None);
    }

    #[test]
    fn a_long_name_is_cut_on_a_character_boundary() {
        let long = "é".repeat(IDENTITY_MAX);
        let got = identity(&cert(vec![], Some(&long))).unwrap();
        assert!(
            got.len() <= IDENTITY_MAX && got.len() >= IDENTITY_MAX - 1,
            "{}",
            got.len()
        );
        assert!(long.starts_with(&got));
    }

    #[test]
    fn garbage_is_no_identity() {
        for bytes in [&b""[..], b"\x30", b"\x30\x82\xff\xff", b"not a certificate"] {
            assert_eq!(identity(&CertificateDer::from(bytes)), None);
        }
        let good = cert(vec![dns("a.example")], None);
        for cut in 0..good.len() {
            // Cut anywhere: never a panic (and no identity from half a
            // certificate's signature-covered part).
            let _ = identity(&CertificateDer::from(&good[..cut]));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Some(name) = identity(&CertificateDer::from(bytes.as_slice())) {
                prop_assert!(name.len() <= IDENTITY_MAX && !name.is_empty());
            }
        }

        #[test]
        fn a_flipped_byte_never_panics(at in 0usize..1024, bit in 0u8..8) {
            static GOOD: std::sync::OnceLock<CertificateDer<'static>> = std::sync::OnceLock::new();
            let good = GOOD.get_or_init(|| cert(vec![dns("a.example")], Some("cn")));
            let mut bytes = good.to_vec();
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            if let Some(name) = identity(&CertificateDer::from(bytes)) {
                prop_assert!(name.len() <= IDENTITY_MAX);
            }
        }
    }
}
