//! Connection limits: at most `max` WebSocket clients, at most `per_ip`
//! from one address. A [`Permit`] is taken before the 101 answer and moved
//! into the connection's task; dropping it — whatever ended the
//! connection — gives the slot back.
//!
//! Both counts live under one `std::sync::Mutex` (never held across an
//! `.await`), so they are exact under concurrent handshakes.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use super::Rejection;

/// Why a connection was refused a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// `--max-connections` reached (answered 503).
    #[error("{}", Rejection::ServerFull.reason())]
    Global,
    /// `--max-connections-per-ip` reached for this address (answered 429).
    #[error("{}", Rejection::IpLimit.reason())]
    PerIp,
}

impl LimitError {
    /// The refusal this limit is.
    pub const fn rejection(self) -> Rejection {
        match self {
            Self::Global => Rejection::ServerFull,
            Self::PerIp => Rejection::IpLimit,
        }
    }
}

/// Limits for [`Limiter::new`].
#[derive(Debug, Clone, Copy)]
pub struct LimitConfig {
    /// Clients at once, all addresses together.
    pub max: usize,
    /// Clients at once from one address.
    pub per_ip: usize,
    /// Whether loopback peers count against `per_ip`.
    pub limit_loopback: bool,
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// Shared connection counter; clone freely.
#[derive(Debug, Clone)]
pub struct Limiter {
    config: LimitConfig,
    counts: Arc<Mutex<Counts>>,
}

/// One held connection slot; released on drop.
#[derive(Debug)]
pub struct Permit {
    counts: Arc<Mutex<Counts>>,
    ip: IpAddr,
}

impl Limiter {
    /// A limiter with nothing held.
    pub fn new(config: LimitConfig) -> Self {
        Self {
            config,
            counts: Arc::default(),
        }
    }

    /// Takes a slot for a client at `ip`, or says which limit is reached.
    pub fn acquire(&self, ip: IpAddr) -> Result<Permit, LimitError> {
        let ip = canonical(ip);
        let mut counts = lock(&self.counts);
        if counts.total >= self.config.max {
            return Err(LimitError::Global);
        }
        let exempt = ip.is_loopback() && !self.config.limit_loopback;
        let from_ip = counts.per_ip.get(&ip).copied().unwrap_or(0);
        if !exempt && from_ip >= self.config.per_ip {
            return Err(LimitError::PerIp);
        }
        counts.total += 1;
        *counts.per_ip.entry(ip).or_insert(0) += 1;
        Ok(Permit {
            counts: Arc::clone(&self.counts),
            ip,
        })
    }

    /// Slots held now.
    pub fn held(&self) -> usize {
        lock(&self.counts).total
    }

    /// Slots held now by `ip`.
    #[cfg(test)]
    pub fn held_by(&self, ip: IpAddr) -> usize {
        lock(&self.counts)
            .per_ip
            .get(&canonical(ip))
            .copied()
            .unwrap_or(0)
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        let mut counts = lock(&self.counts);
        counts.total = counts.total.saturating_sub(1);
        if let Some(n) = counts.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                counts.per_ip.remove(&self.ip);
            }
        }
    }
}

/// IPv4-mapped IPv6 peers (dual-stack listeners) count as their IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

fn lock(m: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    // The counts stay consistent even if a holder panicked: every update
    // is a single statement.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn global_then_per_ip_and_release_on_drop() {
        let l = Limiter::new(LimitConfig {
            max: 3,
            per_ip: 2,
            limit_loopback: false,
        });
        let a1 = l.acquire(ip("10.0.0.1"));
        let a2 = l.acquire(ip("10.0.0.1"));
        assert!(a1.is_ok() && a2.is_ok());
        assert_eq!(l.acquire(ip("10.0.0.1")).err(), Some(LimitError::PerIp));
        let b = l.acquire(ip("10.0.0.2"));
        assert!(b.is_ok());
        assert_eq!(l.acquire(ip("10.0.0.3")).err(), Some(LimitError::Global));
        drop(a1);
        assert_eq!(l.held_by(ip("10.0.0.1")), 1);
        assert!(l.acquire(ip("::ffff:10.0.0.1")).is_ok());
        drop((a2, b));
        assert_eq!(l.held(), 0);
        assert_eq!(l.held_by(ip("10.0.0.1")), 0);
    }

    #[test]
    fn loopback_is_exempt_from_per_ip_unless_asked() {
        let mut cfg = LimitConfig {
            max: 10,
            per_ip: 1,
            limit_loopback: false,
        };
        let l = Limiter::new(cfg);
        let held: Vec<_> = (0..5).map(|_| l.acquire(ip("127.0.0.2"))).collect();
        assert!(held.iter().all(Result::is_ok));
        cfg.limit_loopback = true;
        let l = Limiter::new(cfg);
        let _one = l.acquire(ip("127.0.0.1"));
        assert_eq!(l.acquire(ip("127.0.0.1")).err(), Some(LimitError::PerIp));
    }
}
