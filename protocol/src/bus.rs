//! The message a publisher puts on the broker for its edges: one stamped
//! tick and the stream epoch it belongs to, in a small versioned envelope.
//!
//! ```json
//! {"v":1,"epoch":1764633600000000,"snapshot":{"seq":42,"ts":…,"phase":…,…}}
//! ```
//!
//! * `v` — [`BUS_VERSION`]; an edge refuses any other.
//! * `epoch` — the publisher's stream: unix microseconds of its start,
//!   never 0. A new publisher (or a restarted one) is a new epoch, and its
//!   `seq` may start over.
//! * `snapshot` — the [`MarketSnapshot`] exactly as the publisher stamped
//!   it (`seq`, `ts`, `stale`); edges send it on unchanged.
//!
//! The encoding is JSON for now, written and read only by [`encode_tick`]
//! and [`decode_tick`]: swapping it for a binary layout changes those two
//! functions and bumps [`BUS_VERSION`].

use serde::{Deserialize, Serialize};

use crate::MarketSnapshot;

/// Version of the envelope; an edge accepts this one only.
pub const BUS_VERSION: u32 = 1;

/// Largest envelope an edge decodes, in bytes (a 30-stock snapshot is
/// about 10 KiB in JSON; a 400-symbol universe about 140 KiB).
pub const MAX_BUS_MESSAGE: usize = 1 << 20;

/// One tick on the broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusTick {
    /// [`BUS_VERSION`] of the writer.
    pub v: u32,
    /// The publisher's stream epoch (unix microseconds of its start).
    pub epoch: u64,
    /// The stamped tick.
    pub snapshot: MarketSnapshot,
}

/// Why a broker message is not a tick an edge can use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BusError {
    /// Larger than [`MAX_BUS_MESSAGE`].
    #[error("message of {0} bytes is larger than the bus limit")]
    TooLarge(usize),
    /// Not an envelope at all (not JSON, or the wrong shape).
    #[error("not a bus envelope: {0}")]
    Malformed(String),
    /// An envelope of another version.
    #[error("bus envelope version {0}, this build reads {BUS_VERSION}")]
    Version(u32),
    /// Epoch or `seq` of 0, which no publisher sends.
    #[error("epoch and seq must be positive")]
    Unstamped,
}

impl BusError {
    /// The `reason` label an edge counts this rejection under.
    pub fn label(&self) -> &'static str {
        match self {
            Self::TooLarge(_) | Self::Malformed(_) => "bad_encoding",
            Self::Version(_) => "wrong_version",
            Self::Unstamped => "unstamped",
        }
    }
}

/// Encodes one stamped tick of stream `epoch`.
pub fn encode_tick(epoch: u64, snapshot: &MarketSnapshot) -> Vec<u8> {
    #[derive(Serialize)]
    struct Out<'a> {
        v: u32,
        epoch: u64,
        snapshot: &'a MarketSnapshot,
    }
    // Integers, strings, lists and structs only: serde_json cannot fail.
    serde_json::to_vec(&Out {
        v: BUS_VERSION,
        epoch,
        snapshot,
    })
    .unwrap_or_default()
}

/// Decodes and checks one broker message.
pub fn decode_tick(bytes: &[u8]) -> Result<BusTick, BusError> {
    if bytes.len() > MAX_BUS_MESSAGE {
        return Err(BusError::TooLarge(bytes.len()));
    }
    let tick: BusTick = match serde_json::from_slice(bytes) {
        Ok(tick) => tick,
        Err(e) => {
            // Another version may have another shape: say so when its
            // version field can be read.
            #[derive(Deserialize)]
            struct Head {
                v: u32,
            }
            return Err(match serde_json::from_slice::<Head>(bytes) {
                Ok(head) if head.v != BUS_VERSION => BusError::Version(head.v),
                _ => BusError::Malformed(e.to_string()),
            });
        }
    };
    if tick.v != BUS_VERSION {
        return Err(BusError::Version(tick.v));
    }
    if tick.epoch == 0 || tick.snapshot.seq == 0 {
        return Err(BusError::Unstamped);
    }
    Ok(tick)
}
