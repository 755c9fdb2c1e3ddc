//! Raising the open-file limit so thousands of sockets fit.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises the `RLIMIT_NOFILE` soft limit to the hard limit and returns the
/// new soft limit.
pub fn raise_nofile() -> nix::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft < hard {
        setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    }
    Ok(hard)
}
