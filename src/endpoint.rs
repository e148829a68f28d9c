//! Where an operator API is (`serve --admin`, `top --connect`): a TCP
//! address, or a unix socket (`unix:PATH`, mode 0600: the file's
//! permissions are the access control). `serve` binds it, `top` connects
//! to it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use anyhow::{Context, Result, bail};
use tokio::net::{TcpListener, UnixListener};

/// The default `--admin`: loopback only, one port above the default
/// `--listen`.
pub const DEFAULT: &str = "127.0.0.1:14001";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

/// `--admin`: an endpoint, or `off` (`None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin(pub Option<Endpoint>);

impl FromStr for Endpoint {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some(path) = text.strip_prefix("unix:") {
            if path.is_empty() {
                return Err("'unix:' needs a path (unix:/run/hbmon/admin.sock)".to_owned());
            }
            return Ok(Endpoint::Unix(path.into()));
        }
        text.parse()
            .map(Endpoint::Tcp)
            .map_err(|_| format!("'{text}' is not an address (write IP:PORT or unix:PATH)"))
    }
}

impl FromStr for Admin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "off" {
            return Ok(Admin(None));
        }
        text.parse()
            .map(|endpoint| Admin(Some(endpoint)))
            .map_err(|e: String| e.replace("IP:PORT or unix:PATH", "IP:PORT, unix:PATH, or off"))
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp(addr) => write!(f, "{addr}"),
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

impl Endpoint {
    /// What a request to it names in its `Host` header: the address, or
    /// `localhost` for a unix socket (which has no name, and whose API
    /// checks none).
    pub fn host(&self) -> String {
        match self {
            Endpoint::Tcp(addr) => addr.to_string(),
            Endpoint::Unix(_) => "localhost".to_owned(),
        }
    }

    /// Whether other machines could reach it, so that it needs a token.
    pub fn is_remote(&self) -> bool {
        matches!(self, Endpoint::Tcp(addr) if !addr.ip().is_loopback())
    }
}

/// A bound endpoint, and the address it really has (port 0 resolved).
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixSocket),
}

/// A unix socket this server made, removed when it is dropped, but only
/// while the path still names this very socket: an operator may have
/// removed it and another server bound the same path since, and that
/// server's socket is not ours to delete. The file is known by its device
/// and inode, recorded at bind; the listener stays open until the check is
/// done, so the inode cannot be reused under it.
pub struct UnixSocket {
    listener: UnixListener,
    path: PathBuf,
    identity: (u64, u64),
}

impl UnixSocket {
    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A file's device and inode: what tells one socket file from another made
/// later at the same path.
fn identity(path: &Path) -> std::io::Result<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        if identity(&self.path).is_ok_and(|now| now == self.identity) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Listener {
    /// Binds `endpoint`. A unix socket is made under a temporary name, given
    /// mode 0600 and only then renamed into place, so nobody else can ever
    /// connect to it; a stale socket left by a dead server is replaced, a
    /// live one is refused.
    pub async fn bind(endpoint: &Endpoint) -> Result<Listener> {
        match endpoint {
            Endpoint::Tcp(addr) => Ok(Listener::Tcp(TcpListener::bind(addr).await?)),
            Endpoint::Unix(path) => bind_unix(path).await,
        }
    }

    pub fn endpoint(&self) -> Result<Endpoint> {
        Ok(match self {
            Listener::Tcp(listener) => Endpoint::Tcp(listener.local_addr()?),
            Listener::Unix(socket) => Endpoint::Unix(socket.path.clone()),
        })
    }
}

async fn bind_unix(path: &Path) -> Result<Listener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            bail!("{} exists and is not a socket", path.display());
        }
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            bail!("another server is listening on {}", path.display());
        }
        std::fs::remove_file(path)
            .with_context(|| format!("removing the stale socket {}", path.display()))?;
    }
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(format!(".{}.tmp", std::process::id()));
    let temporary = PathBuf::from(temporary);
    let _ = std::fs::remove_file(&temporary);
    let listener = UnixListener::bind(&temporary)?;
    std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))?;
    std::fs::rename(&temporary, path)?;
    let identity = identity(path)?;
    Ok(Listener::Unix(UnixSocket {
        listener,
        path: path.to_owned(),
        identity,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_reads_addresses_unix_paths_and_off() {
        assert_eq!("off".parse(), Ok(Admin(None)));
        assert_eq!(
            "127.0.0.1:0".parse(),
            Ok(Admin(Some(Endpoint::Tcp("127.0.0.1:0".parse().unwrap()))))
        );
        assert_eq!(
            "unix:/tmp/a.sock".parse(),
            Ok(Admin(Some(Endpoint::Unix("/tmp/a.sock".into()))))
        );
        assert!(
            "unix:"
                .parse::<Admin>()
                .unwrap_err()
                .contains("needs a path")
        );
        assert!(
            "localhost"
                .parse::<Admin>()
                .unwrap_err()
                .contains("IP:PORT")
        );
        assert!(Endpoint::Tcp("0.0.0.0:1".parse().unwrap()).is_remote());
        assert!(!Endpoint::Tcp("127.0.0.1:1".parse().unwrap()).is_remote());
        assert!(!Endpoint::Unix("/x".into()).is_remote());
    }
}
