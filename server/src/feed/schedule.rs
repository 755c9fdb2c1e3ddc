//! The HOSE trading day: which [`TradingPhase`] applies at a given time.
//!
//! Times are Asia/Ho_Chi_Minh (UTC+7 all year: Vietnam has no daylight
//! saving time). Weekdays:
//!
//! | local time | phase |
//! |---|---|
//! | 09:00–09:15 | opening auction (ATO) |
//! | 09:15–11:30 | continuous |
//! | 11:30–13:00 | lunch break |
//! | 13:00–14:30 | continuous |
//! | 14:30–14:45 | closing auction (ATC) |
//! | 14:45–15:00 | put-through |
//! | otherwise, and Saturday/Sunday | closed |
//!
//! Public holidays are not modelled (the exchange publishes them yearly).
//!
//! A [`Schedule::Compressed`] day plays 08:45–15:15 (the session with a
//! quarter hour of `closed` on each side) in a chosen duration, then the
//! next trading day, for demos and tests that want every phase in minutes.

use std::time::Duration;

use marketfeed_protocol::TradingPhase;

/// Seconds from UTC to Asia/Ho_Chi_Minh.
const UTC_OFFSET_SECS: u64 = 7 * 3600;
const DAY_SECS: u64 = 24 * 3600;

/// Phase boundaries, seconds after local midnight, in order.
const PHASES: [(u64, TradingPhase); 7] = [
    (hm(9, 0), TradingPhase::OpeningAuction),
    (hm(9, 15), TradingPhase::Continuous),
    (hm(11, 30), TradingPhase::LunchBreak),
    (hm(13, 0), TradingPhase::Continuous),
    (hm(14, 30), TradingPhase::ClosingAuction),
    (hm(14, 45), TradingPhase::PutThrough),
    (hm(15, 0), TradingPhase::Closed),
];

/// The stretch of the local day a compressed day plays.
const COMPRESSED_FROM: u64 = hm(8, 45);
const COMPRESSED_TO: u64 = hm(15, 15);

const fn hm(h: u64, m: u64) -> u64 {
    h * 3600 + m * 60
}

/// When the market trades.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Always continuous trading (the simulator's default).
    Continuous,
    /// The real HOSE day, by the wall clock.
    Hose,
    /// A whole HOSE day in the given duration, day after day.
    Compressed(Duration),
}

/// Where a schedule stands at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    /// Trading days since an arbitrary origin; changes when a new day
    /// starts (a new reference price).
    pub day: u64,
    /// The phase.
    pub phase: TradingPhase,
}

impl Schedule {
    /// The phase at `unix_secs` (wall clock, seconds) for a schedule that
    /// started at `start_secs` (only a compressed day depends on it).
    pub fn at(self, start_secs: f64, unix_secs: f64) -> Moment {
        match self {
            Self::Continuous => Moment {
                day: 0,
                phase: TradingPhase::Continuous,
            },
            Self::Hose => {
                let local = unix_secs.max(0.0) as u64 + UTC_OFFSET_SECS;
                let day = local / DAY_SECS;
                // 1970-01-01 was a Thursday: day 0 is weekday 3 (Mon = 0).
                let weekday = (day + 3) % 7;
                let phase = if weekday >= 5 {
                    TradingPhase::Closed
                } else {
                    phase_at(local % DAY_SECS)
                };
                Moment { day, phase }
            }
            Self::Compressed(length) => {
                let length = length.as_secs_f64().max(f64::MIN_POSITIVE);
                let elapsed = (unix_secs - start_secs).max(0.0) / length;
                let day = elapsed.floor() as u64;
                let span = (COMPRESSED_TO - COMPRESSED_FROM) as f64;
                let local = COMPRESSED_FROM + (elapsed.fract() * span) as u64;
                Moment {
                    day,
                    phase: phase_at(local),
                }
            }
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = String;

    /// `continuous`, `hose`, or `hose-compressed:DURATION` (e.g. `3m`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "continuous" => Ok(Self::Continuous),
            "hose" => Ok(Self::Hose),
            _ => {
                let Some(length) = s.strip_prefix("hose-compressed:") else {
                    return Err(format!(
                        "unknown schedule {s:?}: continuous, hose or hose-compressed:DURATION"
                    ));
                };
                match humantime::parse_duration(length) {
                    Ok(d) if d.is_zero() => Err("a compressed day must last more than 0s".into()),
                    Ok(d) => Ok(Self::Compressed(d)),
                    Err(e) => Err(format!("{length:?}: {e} (use e.g. 3m, 20s)")),
                }
            }
        }
    }
}

/// The phase at `secs` after local midnight on a trading day.
fn phase_at(secs: u64) -> TradingPhase {
    PHASES
        .iter()
        .rev()
        .find(|(from, _)| secs >= *from)
        .map_or(TradingPhase::Closed, |&(_, phase)| phase)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Unix seconds of a local (UTC+7) time on 2026-12-01, a Tuesday.
    fn tuesday(h: u64, m: u64) -> f64 {
        // 2026-12-01T00:00:00Z
        let midnight_utc = 1_796_083_200u64;
        (midnight_utc + hm(h, m) - UTC_OFFSET_SECS) as f64
    }

    #[test]
    fn the_real_day_by_local_time() {
        use TradingPhase::*;
        let cases = [
            ((8, 59), Closed),
            ((9, 0), OpeningAuction),
            ((9, 14), OpeningAuction),
            ((9, 15), Continuous),
            ((11, 29), Continuous),
            ((11, 30), LunchBreak),
            ((12, 59), LunchBreak),
            ((13, 0), Continuous),
            ((14, 30), ClosingAuction),
            ((14, 45), PutThrough),
            ((15, 0), Closed),
            ((23, 59), Closed),
        ];
        for ((h, m), phase) in cases {
            assert_eq!(
                Schedule::Hose.at(0.0, tuesday(h, m)).phase,
                phase,
                "{h}:{m:02}"
            );
        }
    }

    #[test]
    fn weekends_are_closed() {
        let saturday = tuesday(10, 0) + 4.0 * DAY_SECS as f64;
        let monday = tuesday(10, 0) + 6.0 * DAY_SECS as f64;
        assert_eq!(Schedule::Hose.at(0.0, saturday).phase, TradingPhase::Closed);
        assert_eq!(
            Schedule::Hose.at(0.0, saturday + DAY_SECS as f64).phase,
            TradingPhase::Closed
        );
        assert_eq!(
            Schedule::Hose.at(0.0, monday).phase,
            TradingPhase::Continuous
        );
    }

    #[test]
    fn a_compressed_day_plays_every_phase_then_the_next_day() {
        let day = Schedule::Compressed(Duration::from_secs(390));
        // 390 s for 08:45–15:15 (390 minutes): one second per minute.
        let at = |s: f64| day.at(1000.0, 1000.0 + s);
        assert_eq!(
            at(0.0),
            Moment {
                day: 0,
                phase: TradingPhase::Closed
            }
        );
        assert_eq!(at(16.0).phase, TradingPhase::OpeningAuction);
        assert_eq!(at(31.0).phase, TradingPhase::Continuous);
        assert_eq!(at(166.0).phase, TradingPhase::LunchBreak);
        assert_eq!(at(256.0).phase, TradingPhase::Continuous);
        assert_eq!(at(346.0).phase, TradingPhase::ClosingAuction);
        assert_eq!(at(361.0).phase, TradingPhase::PutThrough);
        assert_eq!(at(376.0).phase, TradingPhase::Closed);
        assert_eq!(
            at(391.0),
            Moment {
                day: 1,
                phase: TradingPhase::Closed
            }
        );
        assert_eq!(
            at(390.0 + 31.0),
            Moment {
                day: 1,
                phase: TradingPhase::Continuous
            }
        );
    }
}
