//! Errors that stop the server from starting.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `--www-dir` names something that is not a directory.
    #[error("www directory {} does not exist or is not a directory", path.display())]
    WwwDir {
        /// The path given.
        path: PathBuf,
    },
    /// The configuration cannot be used (e.g. the auth secret).
    #[error(transparent)]
    Config(#[from] crate::ops::config::ConfigError),
    /// A token could not be minted.
    #[error(transparent)]
    Key(#[from] crate::admission::auth::KeyError),
    /// Another I/O failure while starting.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
}
