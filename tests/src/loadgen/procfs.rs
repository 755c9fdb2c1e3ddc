//! Resource readings of a process from `/proc/PID/{status,stat}` and
//! `/proc/PID/task/*/schedstat`.

use std::fs;

use nix::unistd::{sysconf, SysconfVar};

/// Why a process could not be sampled.
#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    /// `/proc/PID/...` could not be read (the process is gone?).
    #[error("reading /proc/{pid}: {source}")]
    Read {
        /// The process id.
        pid: u32,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file did not have the expected layout.
    #[error("unexpected format of /proc/{0}")]
    Format(u32),
}

/// One reading of a process's memory and CPU time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcSample {
    /// Resident set size, KiB (`VmRSS`).
    pub rss_kib: u64,
    /// User + system CPU time, seconds (`utime + stime`).
    pub cpu_s: f64,
}

fn read(pid: u32, file: &str) -> Result<String, ProcError> {
    fs::read_to_string(format!("/proc/{pid}/{file}"))
        .map_err(|source| ProcError::Read { pid, source })
}

fn clock_ticks_per_s() -> f64 {
    match sysconf(SysconfVar::CLK_TCK) {
        Ok(Some(t)) if t > 0 => t as f64,
        _ => 100.0,
    }
}

/// Samples process `pid`.
pub fn sample(pid: u32) -> Result<ProcSample, ProcError> {
    let status = read(pid, "status")?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .ok_or(ProcError::Format(pid))?;
    let stat = read(pid, "stat")?;
    // The command name may hold spaces or parentheses: fields are counted
    // after the last ')'. utime and stime are fields 14 and 15, i.e. the
    // 12th and 13th after the name.
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .ok_or(ProcError::Format(pid))?;
    let mut fields = after_name.split_whitespace().skip(11);
    let mut next_ticks = || -> Result<u64, ProcError> {
        fields
            .next()
            .and_then(|v| v.parse().ok())
            .ok_or(ProcError::Format(pid))
    };
    let ticks = next_ticks()? + next_ticks()?;
    let cpu_s = schedstat_cpu_s(pid).unwrap_or(ticks as f64 / clock_ticks_per_s());
    Ok(ProcSample { rss_kib, cpu_s })
}

/// CPU time summed over the process's threads from
/// `/proc/PID/task/*/schedstat` (nanoseconds, unlike the 10 ms ticks of
/// `stat`); `None` when the kernel does not provide it.
fn schedstat_cpu_s(pid: u32) -> Option<f64> {
    let mut ns = 0u64;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = task.ok()?.path().join("schedstat");
        // A thread may exit between listing and reading: skip it.
        let Ok(text) = fs::read_to_string(path) else {
            continue;
        };
        ns += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_this_process() {
        let s = sample(std::process::id()).expect("own /proc entry");
        assert!(s.rss_kib > 0);
        assert!(s.cpu_s >= 0.0);
        assert!(sample(u32::MAX).is_err());
    }
}
