//! `hbmon top`'s flags: which servers to watch, with which tokens, and
//! whether kicks may be sent.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Args;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use hbmon::durations::PERIOD;
use hbmon::endpoint;
use hbmon::feed::sources::{Source, Sources};
use hbmon::protocol::Token;
use hbmon::remote;
use hbmon::remote::discover::{self, Discovered, Prometheus};
use hbmon::remote::servers::{self, Connect, Named, ServerSpec};
use hbmon::tls::ClientTls;

use super::read_token;
use super::tls::TopTlsArgs;
use super::values::within;

#[derive(Args)]
pub struct TopArgs {
    /// A server's operator API (its `serve --admin`): IP:PORT,
    /// https://HOST:PORT (when it serves TLS) or unix:PATH, named with NAME=ADDR (the name defaults to the address). Repeat it to
    /// watch several servers in one dashboard. Without it and --servers,
    /// 127.0.0.1:14001.
    #[arg(long, value_name = "[NAME=]ADDR")]
    pub connect: Vec<Named>,
    /// A TOML file of servers to watch: [[server]] tables with name and
    /// connect, and optionally token-file and read-only.
    #[arg(long, value_name = "FILE")]
    pub servers: Option<PathBuf>,
    /// File holding the admin token; without it, HBMON_ADMIN_TOKEN, if set.
    /// A servers file's entry may name its own.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Watch only: no kick keys, and no kick is ever sent (to any server).
    #[arg(long)]
    pub read_only: bool,
    #[command(flatten)]
    pub tls: TopTlsArgs,
    /// A Prometheus server (http://HOST:PORT, with its path prefix if it
    /// has one) whose active targets of --discover-job are servers to
    /// watch, each named by its `instance` label and reached at the address
    /// Prometheus scrapes; asked again every --discover-every, so servers
    /// that come and go appear and leave on their own.
    #[arg(long, value_name = "URL")]
    pub discover: Option<Prometheus>,
    /// The Prometheus job whose targets --discover follows.
    #[arg(long, default_value = discover::DEFAULT_JOB, value_name = "JOB")]
    pub discover_job: String,
    /// How often --discover asks Prometheus again.
    #[arg(long, default_value = "30s", value_parser = within("--discover-every", PERIOD), allow_hyphen_values = true)]
    pub discover_every: Duration,
}

impl TopArgs {
    pub fn token(&self) -> Result<Option<Token>> {
        read_token(self.token_file.as_deref(), "HBMON_ADMIN_TOKEN")
    }

    /// The servers to watch: each --connect, then the servers file's, or
    /// else the default address.
    pub fn specs(&self) -> Result<Vec<ServerSpec>> {
        let mut specs = self.listed()?;
        if specs.is_empty() {
            let connect: Connect = endpoint::DEFAULT.parse().map_err(|e: String| anyhow!(e))?;
            specs.push(ServerSpec {
                name: connect.to_string(),
                tls: self.tls_for(&connect)?,
                connect,
                token: self.token()?,
                read_only: self.read_only,
            });
        }
        if !specs.iter().any(|s| s.tls.is_some()) {
            // --ca, --cert or --key without a server to use them on.
            self.tls.load(None)?;
        }
        Ok(specs)
    }

    /// The servers named by --connect and --servers.
    fn listed(&self) -> Result<Vec<ServerSpec>> {
        let token = self.token()?;
        let mut specs: Vec<ServerSpec> = (self.connect.iter())
            .map(|named| {
                Ok(ServerSpec {
                    name: named.name.clone(),
                    tls: self.tls_for(&named.connect)?,
                    connect: named.connect.clone(),
                    token: token.clone(),
                    read_only: self.read_only,
                })
            })
            .collect::<Result<_>>()?;
        if let Some(path) = &self.servers {
            for entry in servers::read_file(path).map_err(|e| anyhow!(e))? {
                let token = match &entry.token_file {
                    Some(file) => read_token(Some(file), "HBMON_ADMIN_TOKEN").map_err(|e| {
                        anyhow!(
                            "servers file {}: server '{}': token-file: {e:#}",
                            path.display(),
                            entry.name
                        )
                    })?,
                    None => token.clone(),
                };
                specs.push(ServerSpec {
                    name: entry.name,
                    tls: self.tls_for(&entry.connect)?,
                    connect: entry.connect,
                    token,
                    read_only: self.read_only || entry.read_only,
                });
            }
        }
        servers::check_unique(specs.iter().map(|s| s.name.clone())).map_err(|e| anyhow!(e))?;
        Ok(specs)
    }

    /// The TLS to reach a server at `connect` with, when it is https.
    fn tls_for(&self, connect: &Connect) -> Result<Option<ClientTls>> {
        match &connect.https {
            Some(host) => self.tls.load(Some(host)),
            None => Ok(None),
        }
    }

    /// The feeds of the servers to watch, and whether none may be kicked.
    /// One server must answer at once, as `top` always required; of
    /// several, each is followed whether or not it answers yet, and the
    /// servers screen says which do.
    pub async fn sources(&self, stop: CancellationToken) -> Result<(Sources, bool)> {
        if let Some(prometheus) = &self.discover {
            let job = self.discover_job.clone();
            let found = discover::follow(prometheus.clone(), job.clone(), self.discover_every)
                .await
                .with_context(|| format!("asking {prometheus} (--discover) for job {job}"))?;
            let specs = self.discovered(found, stop.clone())?;
            return Ok((remote::fleet::follow(specs, stop), self.read_only));
        }
        let specs = self.specs()?;
        let read_only = specs.iter().all(|s| s.read_only);
        let sources = match specs.as_slice() {
            [one] => {
                let feed = remote::attach(one.api(), stop.clone()).await?;
                let address = one.connect.to_string();
                let source = Source::of(&one.name, &address, one.read_only, feed);
                Sources::one(source, stop)
            }
            _ => remote::fleet::follow(watch::channel(specs).1, stop),
        };
        Ok((sources, read_only))
    }

    /// The servers to follow as Prometheus finds them: those named by
    /// --connect and --servers first, then each target of the job (a name
    /// already listed is followed once), with the token and read-only
    /// setting given for all.
    fn discovered(
        &self,
        mut found: watch::Receiver<Discovered>,
        stop: CancellationToken,
    ) -> Result<watch::Receiver<Vec<ServerSpec>>> {
        let listed = self.listed()?;
        let (token, read_only) = (self.token()?, self.read_only);
        let specs = move |found: &Discovered| {
            let mut specs = listed.clone();
            for target in &found.targets {
                if specs.len() == servers::MAX_SERVERS {
                    break;
                }
                if specs.iter().all(|s| s.name != target.name) {
                    specs.push(ServerSpec {
                        name: target.name.clone(),
                        connect: Connect {
                            endpoint: target.connect.clone(),
                            https: None,
                        },
                        token: token.clone(),
                        tls: None,
                        read_only,
                    });
                }
            }
            specs
        };
        let (sender, receiver) = watch::channel(specs(&found.borrow_and_update()));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    changed = found.changed() => if changed.is_err() { return },
                }
                let next = specs(&found.borrow_and_update());
                sender.send_if_modified(|now| {
                    let changed = *now != next;
                    *now = next;
                    changed
                });
            }
        });
        Ok(receiver)
    }
}
