//! The message a publisher puts on the broker for its edges: one stamped
//! tick and the stream epoch it belongs to, in a small versioned binary
//! envelope around the `marketfeed.v2.bin` keyframe ([`crate::binary`]):
//!
//! | bytes | field |
//! |---|---|
//! | 0–1 | [`BUS_MAGIC`], `6D 66` (`"mf"`) |
//! | 2 | [`BUS_VERSION`]; an edge refuses any other |
//! | 3–10 | `epoch`: u64, little-endian; never 0 |
//! | 11– | the snapshot exactly as the publisher stamped it (`seq`, `ts`, `stale`), as a binary keyframe: tag `0x01` and its body, filling the message |
//!
//! * `epoch` — the publisher's stream: unix microseconds of its start. A
//!   new publisher (or a restarted one) is a new epoch, and its `seq` may
//!   start over.
//! * The snapshot is the one layout the v2 binary format already defines,
//!   so there is nothing new to decode and about a quarter of the JSON
//!   size on the broker; edges send it on unchanged.
//!
//! Version 1 was the same envelope in JSON (`{"v":1,"epoch":…,
//! "snapshot":{…}}`); such a message is refused as `wrong_version`, so
//! a publisher and edges of different releases say so in their metrics.
//! [`encode_tick`] and [`decode_tick`] are the only writer and reader.

use serde::Deserialize;

use crate::binary::{decode as decode_binary, encode_snapshot};
use crate::{MarketSnapshot, ServerMessage};

/// Version of the envelope; an edge accepts this one only.
pub const BUS_VERSION: u8 = 2;

/// The first two bytes of every envelope.
pub const BUS_MAGIC: [u8; 2] = *b"mf";

/// Magic, version and epoch.
const HEADER: usize = 2 + 1 + 8;

/// Largest envelope an edge decodes, in bytes (a 30-stock snapshot is
/// about 3 KiB; a 400-symbol universe about 40 KiB).
pub const MAX_BUS_MESSAGE: usize = 1 << 20;

/// One tick on the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusTick {
    /// [`BUS_VERSION`] of the writer.
    pub v: u8,
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
    /// Not an envelope at all (no header, or a damaged keyframe).
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
    let body = encode_snapshot(snapshot);
    let mut out = Vec::with_capacity(HEADER + body.len());
    out.extend_from_slice(&BUS_MAGIC);
    out.push(BUS_VERSION);
    out.extend_from_slice(&epoch.to_le_bytes());
    out.extend_from_slice(&body);
    out
}

/// Decodes and checks one broker message.
pub fn decode_tick(bytes: &[u8]) -> Result<BusTick, BusError> {
    if bytes.len() > MAX_BUS_MESSAGE {
        return Err(BusError::TooLarge(bytes.len()));
    }
    if bytes.first() == Some(&b'{') {
        // A version 1 (JSON) envelope, or JSON of another kind.
        #[derive(Deserialize)]
        struct Head {
            v: u32,
        }
        return Err(match serde_json::from_slice::<Head>(bytes) {
            Ok(head) if head.v != u32::from(BUS_VERSION) => BusError::Version(head.v),
            _ => BusError::Malformed("JSON, not a bus envelope".to_owned()),
        });
    }
    if bytes.len() < HEADER || bytes[..2] != BUS_MAGIC {
        return Err(BusError::Malformed("no bus header".to_owned()));
    }
    if bytes[2] != BUS_VERSION {
        return Err(BusError::Version(u32::from(bytes[2])));
    }
    let mut epoch = [0; 8];
    epoch.copy_from_slice(&bytes[3..HEADER]);
    let epoch = u64::from_le_bytes(epoch);
    let snapshot = match decode_binary(&bytes[HEADER..]) {
        Ok(ServerMessage::Snapshot(snapshot)) => snapshot,
        Ok(_) => return Err(BusError::Malformed("a delta, not a keyframe".to_owned())),
        Err(e) => return Err(BusError::Malformed(e.to_string())),
    };
    if epoch == 0 || snapshot.seq == 0 {
        return Err(BusError::Unstamped);
    }
    Ok(BusTick {
        v: BUS_VERSION,
        epoch,
        snapshot,
    })
}
