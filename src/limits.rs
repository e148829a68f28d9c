//! Process limits a server or fleet of thousands of sockets runs into.

/// Raises the soft open-file limit to the hard limit, once, and returns the
/// limit now in force. Each client is one file descriptor on each side.
pub fn raise_open_files() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "could not raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map_or(1024, |(soft, _)| soft)
        }
    })
}
