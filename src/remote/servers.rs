//! The servers `hbmon top` follows, as the operator names them: each
//! `--connect [NAME=]ADDR`, and the entries of a `--servers FILE`.
//!
//! A [`ServerSpec`] is what a follower needs; a list of them may change
//! while `top` runs (servers found by discovery come and go), which is why
//! [`follow`](super::fleet::follow) takes them through a `watch`. Every
//! name and address is checked where it is read, and a bad one is an error
//! naming the flag, or the file, entry and key.

use std::collections::HashSet;
use std::fmt;
use std::net::ToSocketAddrs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::endpoint::Endpoint;
use crate::protocol::Token;
use crate::tls::ClientTls;

use super::http::Api;

/// The longest server name taken.
pub const MAX_NAME: usize = 64;
/// The most servers one `top` follows.
pub const MAX_SERVERS: usize = 256;
/// The largest servers file read.
const MAX_FILE: u64 = 1 << 20;

/// One server to follow.
#[derive(Clone)]
pub struct ServerSpec {
    /// What the dashboard calls it: unique among the servers followed.
    pub name: String,
    /// Its operator API.
    pub connect: Connect,
    pub token: Option<Token>,
    /// How to speak HTTPS to it, when `connect` says https.
    pub tls: Option<ClientTls>,
    /// Watched only: no kick is sent to it.
    pub read_only: bool,
}

impl ServerSpec {
    /// How to reach its operator API.
    pub fn api(&self) -> Api {
        Api {
            endpoint: self.connect.endpoint.clone(),
            token: self.token.clone(),
            tls: self.tls.clone(),
        }
    }
}

/// The same server, followed the same way (TLS settings are compared by
/// whether there are any: they come from the same flags for every server).
impl PartialEq for ServerSpec {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.connect == other.connect
            && self.token == other.token
            && self.tls.is_some() == other.tls.is_some()
            && self.read_only == other.read_only
    }
}

impl Eq for ServerSpec {}

/// An operator API's address as `top` is given it: `https://HOST:PORT` for
/// TLS, else IP:PORT (`http://` allowed) or unix:PATH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect {
    pub endpoint: Endpoint,
    /// The host the API's certificate must name, when over TLS.
    pub https: Option<String>,
}

impl FromStr for Connect {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some(rest) = text.strip_prefix("https://") else {
            let endpoint = text.strip_prefix("http://").unwrap_or(text).parse()?;
            return Ok(Connect {
                endpoint,
                https: None,
            });
        };
        let rest = rest.trim_end_matches('/');
        let addr = rest
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| format!("'{text}' is not an address (write https://HOST:PORT)"))?;
        Ok(Connect {
            endpoint: Endpoint::Tcp(addr),
            https: Some(crate::tls::host(rest).to_owned()),
        })
    }
}

impl fmt::Display for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.https {
            Some(_) => write!(f, "https://{}", self.endpoint),
            None => write!(f, "{}", self.endpoint),
        }
    }
}

/// Written by hand: the token is a secret, and is never printed.
impl fmt::Debug for ServerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSpec")
            .field("name", &self.name)
            .field("connect", &self.connect)
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("read_only", &self.read_only)
            .finish()
    }
}

/// A `--connect` value: `ADDR` or `NAME=ADDR`; the name defaults to the
/// address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Named {
    pub name: String,
    pub connect: Connect,
}

impl FromStr for Named {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        // `unix:PATH` may hold a '=' of its own: only a name comes before one.
        let (name, address) = match text.split_once('=') {
            Some((name, address)) if !text.starts_with("unix:") => (Some(name), address),
            _ => (None, text),
        };
        let connect: Connect = address.parse()?;
        let name = match name {
            Some(name) => check_name(name)?,
            None => connect.to_string(),
        };
        Ok(Named { name, connect })
    }
}

/// A server's name as given: printable, without spaces, at most
/// [`MAX_NAME`] characters.
pub fn check_name(name: &str) -> Result<String, String> {
    if name.is_empty() {
        return Err("a server name is empty (write NAME=ADDR, or ADDR alone)".to_owned());
    }
    if name.chars().count() > MAX_NAME {
        return Err(format!(
            "the server name '{}...' is longer than {MAX_NAME} characters",
            name.chars().take(16).collect::<String>()
        ));
    }
    if name
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || crate::printable::is_unsafe(c))
    {
        return Err(format!(
            "the server name {name:?} has a space or a control character"
        ));
    }
    Ok(name.to_owned())
}

/// Checks that no two servers share a name, nor are too many.
pub fn check_unique(names: impl IntoIterator<Item = String>) -> Result<(), String> {
    let mut seen = HashSet::new();
    for name in names {
        if seen.len() == MAX_SERVERS {
            return Err(format!("more than {MAX_SERVERS} servers"));
        }
        if !seen.insert(name.clone()) {
            return Err(format!(
                "two servers are named '{name}' (name them apart: NAME=ADDR)"
            ));
        }
    }
    Ok(())
}

/// One entry of a servers file, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub connect: Connect,
    /// Where its token is, relative to the servers file's folder when not
    /// absolute.
    pub token_file: Option<PathBuf>,
    pub read_only: bool,
}

/// A servers file as written: `[[server]]` tables.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: Vec<Raw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Raw {
    name: String,
    connect: String,
    token_file: Option<PathBuf>,
    #[serde(default)]
    read_only: bool,
}

/// Reads the servers file at `path`. Errors name the file, and the entry
/// and key that are wrong.
pub fn read_file(path: &Path) -> Result<Vec<Entry>, String> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .map_err(|e| format!("cannot read the servers file {shown}: {e}"))?
        .len();
    if size > MAX_FILE {
        return Err(format!(
            "the servers file {shown} is larger than {MAX_FILE} bytes"
        ));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the servers file {shown}: {e}"))?;
    let folder = path.parent().unwrap_or(Path::new("."));
    parse(&text, folder).map_err(|e| format!("servers file {shown}: {e}"))
}

/// The entries of a servers file's `text`; token files are found from
/// `folder`.
pub fn parse(text: &str, folder: &Path) -> Result<Vec<Entry>, String> {
    let file: File = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
    if file.server.is_empty() {
        return Err("no servers (write a [[server]] table with name and connect)".to_owned());
    }
    let mut entries = Vec::with_capacity(file.server.len());
    for (i, raw) in file.server.into_iter().enumerate() {
        let at = format!("server {} ('{}')", i + 1, raw.name);
        let name = check_name(&raw.name).map_err(|e| format!("{at}: name: {e}"))?;
        let connect = (raw.connect.parse()).map_err(|e| format!("{at}: connect: {e}"))?;
        entries.push(Entry {
            name,
            connect,
            token_file: raw.token_file.map(|f| folder.join(f)),
            read_only: raw.read_only,
        });
    }
    check_unique(entries.iter().map(|e| e.name.clone()))?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_value_may_name_its_server() {
        let named: Named = "eu-1=127.0.0.1:14001".parse().unwrap();
        assert_eq!(named.name, "eu-1");
        assert_eq!(named.connect.to_string(), "127.0.0.1:14001");
        let bare: Named = "127.0.0.1:14002".parse().unwrap();
        assert_eq!(bare.name, "127.0.0.1:14002");
        let unix: Named = "unix:/run/a=b.sock".parse().unwrap();
        assert_eq!(unix.name, "unix:/run/a=b.sock");
        let error = "=127.0.0.1:1".parse::<Named>().unwrap_err();
        assert!(error.contains("empty"), "{error}");
        let error = "a b=127.0.0.1:1".parse::<Named>().unwrap_err();
        assert!(error.contains("space"), "{error}");
        let error = "a=nowhere".parse::<Named>().unwrap_err();
        assert!(error.contains("'nowhere' is not an address"), "{error}");
    }

    #[test]
    fn a_servers_file_lists_named_servers_with_tokens_beside_it() {
        let text = r#"
            [[server]]
            name = "a"
            connect = "127.0.0.1:14001"
            token-file = "a.token"

            [[server]]
            name = "b"
            connect = "127.0.0.1:14002"
            read-only = true
        "#;
        let entries = parse(text, Path::new("/etc/hbmon")).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].token_file.as_deref(),
            Some(Path::new("/etc/hbmon/a.token"))
        );
        assert!(!entries[0].read_only && entries[1].read_only);
    }

    #[test]
    fn a_bad_servers_file_names_the_entry_and_the_key() {
        let at = |text: &str| parse(text, Path::new(".")).unwrap_err();
        let bad_address = at("[[server]]\nname = \"a\"\nconnect = \"x\"\n");
        assert!(
            bad_address.starts_with("server 1 ('a'): connect:"),
            "{bad_address}"
        );
        let unknown = at("[[server]]\nname = \"a\"\nconnect = \"127.0.0.1:1\"\ntoken = \"x\"\n");
        assert!(unknown.contains("unknown field `token`"), "{unknown}");
        assert!(unknown.contains("line 4"), "{unknown}");
        let missing = at("[[server]]\nname = \"a\"\n");
        assert!(missing.contains("missing field `connect`"), "{missing}");
        let twice = at(
            "[[server]]\nname = \"a\"\nconnect = \"127.0.0.1:1\"\n[[server]]\nname = \"a\"\nconnect = \"127.0.0.1:2\"\n",
        );
        assert!(twice.contains("two servers are named 'a'"), "{twice}");
        assert!(at("").contains("no servers"));
    }
}
