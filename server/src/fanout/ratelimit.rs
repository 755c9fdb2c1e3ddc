//! A token bucket for a connection's inbound messages: `burst` messages at
//! once, refilled at `rate` per second. Pure and clock-injected, so it is
//! tested without sleeping.

use std::time::Instant;

/// Settings of a [`TokenBucket`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    /// Tokens added per second (sustained messages per second).
    pub rate: u32,
    /// Bucket size (messages allowed at once).
    pub burst: u32,
}

/// One connection's bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    config: RateConfig,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(config: RateConfig, now: Instant) -> Self {
        Self {
            config,
            tokens: f64::from(config.burst),
            last: now,
        }
    }

    /// Takes one token; `false` when the bucket is empty.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * f64::from(self.config.rate))
            .min(f64::from(self.config.burst));
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Time until one token is available again.
    #[cfg(test)]
    pub fn wait_time(&self) -> std::time::Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        std::time::Duration::from_secs_f64(missing / f64::from(self.config.rate.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn burst_then_sustained_rate() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateConfig { rate: 10, burst: 5 }, t0);
        assert!((0..5).all(|_| b.allow(t0)));
        assert!(!b.allow(t0));
        assert!(b.wait_time() > Duration::ZERO);
        // 100 ms later one token is back, not two.
        let t1 = t0 + Duration::from_millis(100);
        assert!(b.allow(t1));
        assert!(!b.allow(t1));
        // A long pause refills to the burst, never beyond.
        let t2 = t1 + Duration::from_secs(60);
        assert_eq!((0..10).filter(|_| b.allow(t2)).count(), 5);
    }

    #[test]
    fn steady_sender_at_the_rate_is_never_refused() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateConfig { rate: 10, burst: 1 }, t0);
        for i in 0..1000u64 {
            assert!(b.allow(t0 + Duration::from_millis(100 * i)), "message {i}");
        }
    }
}
