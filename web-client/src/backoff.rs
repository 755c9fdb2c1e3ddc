//! Exponential backoff with full jitter.
//!
//! The delay before reconnect attempt `n` (counted from 0) is drawn
//! uniformly from `[0, min(max, initial × multiplier^n))` — "full jitter",
//! so that thousands of clients dropped by the same server restart spread
//! their returns over the whole window instead of arriving together.
//!
//! The caller supplies the random number (a value in `[0, 1)`), which keeps
//! this module free of any browser API and deterministic under test.

use crate::connection::MAX_TIMER_MS;

/// Tunable backoff parameters, all in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BackoffConfig {
    /// Upper bound of the first delay.
    pub initial_ms: f64,
    /// Cap on the upper bound of any delay.
    pub max_ms: f64,
    /// Growth factor of the upper bound per attempt (≥ 1).
    pub multiplier: f64,
    /// A connection that stayed open this long resets the attempt count.
    pub reset_after_ms: f64,
    /// Give up after this many consecutive failed attempts (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        Self {
            initial_ms: 500.0,
            max_ms: 20_000.0,
            multiplier: 2.0,
            reset_after_ms: 10_000.0,
            max_attempts: None,
        }
    }
}

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidConfig(pub &'static str);

impl std::fmt::Display for InvalidConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for InvalidConfig {}

impl BackoffConfig {
    /// Checks that every field is finite and in range.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let finite_non_negative = |v: f64| v.is_finite() && v >= 0.0;
        // Delays are waited for with a browser timer.
        let schedulable = |v: f64| (0.0..=MAX_TIMER_MS).contains(&v);
        if !schedulable(self.initial_ms) {
            return Err(InvalidConfig(
                "initialDelayMs must be a number ≥ 0 and ≤ 2147483647 (the longest delay a browser timer can wait)",
            ));
        }
        if !schedulable(self.max_ms) || self.max_ms < self.initial_ms {
            return Err(InvalidConfig(
                "maxDelayMs must be a number ≥ initialDelayMs and ≤ 2147483647 (the longest delay a browser timer can wait)",
            ));
        }
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(InvalidConfig("multiplier must be a finite number ≥ 1"));
        }
        if !finite_non_negative(self.reset_after_ms) {
            return Err(InvalidConfig("resetAfterMs must be a finite number ≥ 0"));
        }
        Ok(())
    }
}

/// Attempt counter and delay generator.
#[derive(Debug, Clone)]
pub struct Backoff {
    config: BackoffConfig,
    attempts: u32,
}

impl Backoff {
    /// A backoff that has made no attempt yet.
    pub fn new(config: BackoffConfig) -> Self {
        Self {
            config,
            attempts: 0,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &BackoffConfig {
        &self.config
    }

    /// Consecutive attempts made since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// Upper bound of the delay before attempt `attempt` (0-based).
    pub fn ceiling(&self, attempt: u32) -> f64 {
        let c = &self.config;
        // powi saturates to +inf for large exponents; min() brings it back.
        let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
        (c.initial_ms * c.multiplier.powi(exp)).min(c.max_ms)
    }

    /// Whether the attempt limit has been reached.
    pub fn exhausted(&self) -> bool {
        self.config
            .max_attempts
            .is_some_and(|max| self.attempts >= max)
    }

    /// Counts one more attempt and returns the delay to wait before it, or
    /// `None` when the attempt limit has been reached.
    ///
    /// `random` is a uniform sample from `[0, 1)`; values outside are clamped.
    pub fn next_delay(&mut self, random: f64) -> Option<f64> {
        if self.exhausted() {
            return None;
        }
        let ceiling = self.ceiling(self.attempts);
        self.attempts = self.attempts.saturating_add(1);
        let r = if random.is_nan() {
            0.0
        } else {
            random.clamp(0.0, 1.0)
        };
        Some((r * ceiling).floor())
    }

    /// Takes back the last counted attempt (it was scheduled but not made).
    pub fn forget_one(&mut self) {
        self.attempts = self.attempts.saturating_sub(1);
    }

    /// Forgets every attempt: the next delay is drawn from the first window.
    pub fn reset(&mut self) {
        self.attempts = 0;
    }

    /// Resets when a connection opened at `opened_at` and lost at `now`
    /// stayed up for at least the stable period. Returns whether it did.
    pub fn reset_if_stable(&mut self, opened_at: f64, now: f64) -> bool {
        let stable = now - opened_at >= self.config.reset_after_ms;
        if stable {
            self.reset();
        }
        stable
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn backoff() -> Backoff {
        Backoff::new(BackoffConfig::default())
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn ceilings_double_up_to_the_cap() {
        let b = backoff();
        let ceilings: Vec<f64> = (0..8).map(|n| b.ceiling(n)).collect();
        assert_eq!(
            ceilings,
            [500.0, 1000.0, 2000.0, 4000.0, 8000.0, 16000.0, 20000.0, 20000.0]
        );
        assert_eq!(b.ceiling(u32::MAX), 20_000.0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn delays_span_the_whole_window() {
        let mut lo = backoff();
        let mut hi = backoff();
        for n in 0..10 {
            let ceiling = lo.ceiling(n);
            assert_eq!(lo.next_delay(0.0), Some(0.0));
            let top = hi.next_delay(0.999_999).unwrap_or(-1.0);
            assert!(top <= ceiling && top >= ceiling - 1.0, "{top} vs {ceiling}");
        }
        assert_eq!(lo.attempts(), 10);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn out_of_range_randoms_are_clamped() {
        let mut b = backoff();
        assert_eq!(b.next_delay(f64::NAN), Some(0.0));
        assert_eq!(b.next_delay(7.0), Some(1000.0));
        assert_eq!(b.next_delay(-1.0), Some(0.0));
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn max_attempts_stops_the_sequence() {
        let mut b = Backoff::new(BackoffConfig {
            max_attempts: Some(2),
            ..BackoffConfig::default()
        });
        assert!(b.next_delay(0.5).is_some());
        assert!(b.next_delay(0.5).is_some());
        assert!(b.exhausted());
        assert_eq!(b.next_delay(0.5), None);
        b.reset();
        assert!(b.next_delay(0.5).is_some());
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn reset_only_after_a_stable_period() {
        let mut b = backoff();
        for _ in 0..4 {
            b.next_delay(0.5);
        }
        assert!(!b.reset_if_stable(1_000.0, 10_999.0));
        assert_eq!(b.attempts(), 4);
        assert!(b.reset_if_stable(1_000.0, 11_000.0));
        assert_eq!(b.attempts(), 0);
    }

    #[wasm_bindgen_test(unsupported = test)]
    fn invalid_configs_are_rejected() {
        let ok = BackoffConfig::default();
        assert!(ok.validate().is_ok());
        for bad in [
            BackoffConfig {
                initial_ms: -1.0,
                ..ok
            },
            BackoffConfig {
                max_ms: 100.0,
                ..ok
            },
            BackoffConfig {
                multiplier: 0.5,
                ..ok
            },
            BackoffConfig {
                reset_after_ms: f64::NAN,
                ..ok
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
