//! `hold --tls`: a throwaway CA and server certificate for the run, made
//! in memory and written to a directory removed afterwards, so the
//! scenario needs nothing from the operator.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, KeyUsagePurpose};

use crate::tls::{Mode, ServerFiles, ServerTls};

/// The run's certificates: the server's TLS, and the CA its fleet trusts.
pub(super) struct BenchTls {
    dir: PathBuf,
    pub(super) server: Arc<ServerTls>,
    pub(super) ca: PathBuf,
}

impl BenchTls {
    pub(super) fn make() -> Result<BenchTls> {
        let dir = std::env::temp_dir().join(format!("hbmon-bench-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = params.self_signed(&ca_key)?;
        let issuer = Issuer::new(params, ca_key);
        let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()])?;
        let key = KeyPair::generate()?;
        let cert = leaf.signed_by(&key, &issuer)?;
        let write = |name: &str, text: String| -> Result<PathBuf> {
            let path = dir.join(name);
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
            Ok(path)
        };
        let files = ServerFiles {
            cert: write("server.pem", cert.pem())?,
            key: write("server.key", key.serialize_pem())?,
            client_ca: None,
        };
        let ca = write("ca.pem", ca_cert.pem())?;
        let server = Arc::new(ServerTls::load(files, Mode::Required)?);
        Ok(BenchTls { dir, server, ca })
    }

    /// What the fleet is told to speak TLS with.
    pub(super) fn fleet_args(&self) -> Vec<String> {
        vec![
            "--tls".to_owned(),
            "--ca".to_owned(),
            self.ca.display().to_string(),
        ]
    }
}

impl Drop for BenchTls {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
