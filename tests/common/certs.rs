//! Certificates made at test time with rcgen, written as PEM files into a
//! fresh directory: a CA, a server certificate for localhost and
//! 127.0.0.1, client certificates (valid or expired). No key is committed.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};

/// A certificate authority and the directory its files go to.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    /// The CA's certificate: what a peer trusts (`--ca`, `--client-ca`).
    pub pem: PathBuf,
    dir: PathBuf,
}

/// A certificate and its key, as files.
#[derive(Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pair {
    pub fn cert(&self) -> &str {
        self.cert.to_str().unwrap()
    }

    pub fn key(&self) -> &str {
        self.key.to_str().unwrap()
    }
}

impl Ca {
    /// A new CA whose files go to a directory of their own named `name`.
    pub fn new(name: &str) -> Ca {
        let dir = std::env::temp_dir().join(format!("hbmon-{}-tls-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("hbmon test CA {name}"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let pem = dir.join("ca.pem");
        std::fs::write(&pem, cert.pem()).unwrap();
        Ca {
            issuer: Issuer::new(params, key),
            pem,
            dir,
        }
    }

    /// The CA's certificate file, as an argument.
    pub fn ca(&self) -> &str {
        self.pem.to_str().unwrap()
    }

    /// A server certificate valid for localhost and 127.0.0.1.
    pub fn server(&self, file: &str) -> Pair {
        self.issue(file, &["localhost", "127.0.0.1"], false)
    }

    /// A client certificate naming `name`.
    pub fn client(&self, file: &str, name: &str) -> Pair {
        self.issue(file, &[name], false)
    }

    /// A client certificate naming `name` that expired years ago.
    pub fn expired_client(&self, file: &str, name: &str) -> Pair {
        self.issue(file, &[name], true)
    }

    fn issue(&self, file: &str, names: &[&str], expired: bool) -> Pair {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names.clone()).unwrap();
        params.distinguished_name = named(&names[0]);
        if expired {
            params.not_before = date_time_ymd(2000, 1, 1);
            params.not_after = date_time_ymd(2001, 1, 1);
        }
        self.issue_with(file, params)
    }

    /// A pair made from `params`, written as `FILE.pem` and `FILE.key`.
    pub fn issue_with(&self, file: &str, params: CertificateParams) -> Pair {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let pair = Pair {
            cert: self.dir.join(format!("{file}.pem")),
            key: self.dir.join(format!("{file}.key")),
        };
        write(&pair.cert, &cert.pem());
        write(&pair.key, &key.serialize_pem());
        pair
    }
}

/// Writes a file whole, as an operator's `mv` of a new file into place
/// does, so a reader never sees half of it.
pub fn write(path: &Path, text: &str) {
    let fresh = path.with_extension("new");
    std::fs::write(&fresh, text).unwrap();
    std::fs::rename(&fresh, path).unwrap();
}

impl Drop for Ca {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A distinguished name with only a common name.
pub fn named(cn: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, cn);
    name
}
