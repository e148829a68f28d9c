//! Certificates made at test time, so no private key is committed: a CA,
//! and the server and client pairs it signs, written as PEM files.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, IsCa, KeyPair,
};

/// A certificate and its key, as files.
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A CA in `dir`: its certificate is `ca.crt`.
pub struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    dir: PathBuf,
    pub cert: PathBuf,
}

impl Authority {
    pub fn new(dir: &Path) -> Authority {
        std::fs::create_dir_all(dir).unwrap();
        let mut params = CertificateParams::default();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name = named("hbmon test CA");
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        let cert = dir.join("ca.crt");
        std::fs::write(&cert, issuer.pem()).unwrap();
        Authority {
            issuer,
            dir: dir.to_owned(),
            cert,
        }
    }

    /// A pair for the DNS name `name` (its common name too), written as
    /// `NAME.crt` and `NAME.key`.
    pub fn issue(&self, name: &str) -> Pair {
        let mut params = CertificateParams::new(vec![name.to_owned()]).unwrap();
        params.distinguished_name = named(name);
        self.issue_with(name, params)
    }

    /// A pair made from `params`, written as `FILE.crt` and `FILE.key`.
    pub fn issue_with(&self, file: &str, params: CertificateParams) -> Pair {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let pair = Pair {
            cert: self.dir.join(format!("{file}.crt")),
            key: self.dir.join(format!("{file}.key")),
        };
        std::fs::write(&pair.cert, cert.pem()).unwrap();
        std::fs::write(&pair.key, key.serialize_pem()).unwrap();
        pair
    }
}

/// A distinguished name with only a common name.
pub fn named(cn: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    name
}
