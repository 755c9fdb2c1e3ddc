//! Cheap extraction of `type`, `seq` and `ts` from a server message.
//!
//! The server writes compact JSON with the `type` tag first and `seq`, `ts`
//! right after it, so a byte scan of the first bytes finds them without
//! parsing the ~5.5 KB of quotes. Anything unexpected falls back to serde
//! with a struct that names only those fields.

use marketfeed_protocol::kind;
use serde::Deserialize;

/// How far into a message the fast scan looks for its keys.
const SCAN_WINDOW: usize = 128;

/// What the load generator needs to know about one server message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scanned {
    /// A market message — a snapshot (keyframe) or a v2 delta, JSON or
    /// binary — with its sequence number and server timestamp (unix µs).
    Snapshot {
        /// Tick sequence number.
        seq: u64,
        /// Server time of the tick, unix microseconds.
        ts: u64,
    },
    /// The greeting.
    Hello,
    /// The answer to a `subscribe` / `unsubscribe`.
    Subscribed,
    /// An `error` message.
    Error,
    /// Any other message type.
    Other,
    /// Not JSON of the expected shape.
    Invalid,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    seq: Option<u64>,
    ts: Option<u64>,
}

/// Classifies the binary message `msg` (`marketfeed.v2.bin`): reads the
/// tag and the leading varints (`seq`, then `ts` for a snapshot; `seq`,
/// `seq − base`, `ts` for a delta) without decoding the rest.
pub fn scan_binary(msg: &[u8]) -> Scanned {
    let mut at = 1;
    let mut varint = || {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *msg.get(at)?;
            at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    };
    let fields = match msg.first() {
        Some(&marketfeed_protocol::binary::TAG_SNAPSHOT) => {
            varint().and_then(|seq| Some((seq, varint()?)))
        }
        Some(&marketfeed_protocol::binary::TAG_DELTA) => {
            varint().and_then(|seq| varint().and_then(|_| Some((seq, varint()?))))
        }
        _ => None,
    };
    match fields {
        Some((seq, ts)) => Scanned::Snapshot { seq, ts },
        None => Scanned::Invalid,
    }
}

/// Classifies `msg` and pulls out `seq` and `ts` of a snapshot or delta.
pub fn scan(msg: &[u8]) -> Scanned {
    let head = &msg[..msg.len().min(SCAN_WINDOW)];
    if let Some(kind) = string_after(head, b"\"type\":") {
        if is_market(kind) {
            if let (Some(seq), Some(ts)) = (
                number_after(head, b"\"seq\":"),
                number_after(head, b"\"ts\":"),
            ) {
                return Scanned::Snapshot { seq, ts };
            }
        } else {
            return other_kind(kind);
        }
    }
    slow_scan(msg)
}

/// A snapshot or delta `type`.
fn is_market(kind: &[u8]) -> bool {
    kind == kind::SNAPSHOT.as_bytes() || kind == kind::DELTA.as_bytes()
}

/// Any `type` but a market message's.
fn other_kind(kind: &[u8]) -> Scanned {
    if kind == kind::HELLO.as_bytes() {
        Scanned::Hello
    } else if kind == kind::SUBSCRIBED.as_bytes() {
        Scanned::Subscribed
    } else if kind == kind::ERROR.as_bytes() {
        Scanned::Error
    } else {
        Scanned::Other
    }
}

fn slow_scan(msg: &[u8]) -> Scanned {
    match serde_json::from_slice::<Head>(msg) {
        Ok(Head {
            kind,
            seq: Some(seq),
            ts: Some(ts),
        }) if is_market(kind.as_bytes()) => Scanned::Snapshot { seq, ts },
        Ok(Head { kind, .. }) if !is_market(kind.as_bytes()) => other_kind(kind.as_bytes()),
        _ => Scanned::Invalid,
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + needle.len())
}

fn string_after<'a>(hay: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let rest = hay.get(find(hay, key)?..)?.strip_prefix(b"\"")?;
    let end = rest.iter().position(|b| *b == b'"')?;
    rest.get(..end)
}

fn number_after(hay: &[u8], key: &[u8]) -> Option<u64> {
    let rest = hay.get(find(hay, key)?..)?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    // A number cut off by the window edge is not trusted.
    if digits == 0 || digits == rest.len() || digits > 19 {
        return None;
    }
    rest[..digits].iter().try_fold(0u64, |acc, d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../protocol/tests/fixtures/");

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!("{FIXTURES}{name}")).expect("fixture exists")
    }

    fn compact(pretty: &[u8]) -> Vec<u8> {
        let v: serde_json::Value = serde_json::from_slice(pretty).expect("valid fixture");
        serde_json::to_vec(&v).expect("serializable")
    }

    #[test]
    fn fast_path_on_the_servers_encoding() {
        let snap = marketfeed_protocol::decode_server(&fixture("snapshot.json")).expect("decodes");
        let wire = marketfeed_protocol::encode_server(&snap);
        assert!(wire.starts_with(b"{\"type\":\"snapshot\",\"seq\":42,"));
        assert_eq!(
            scan(&wire),
            Scanned::Snapshot {
                seq: 42,
                ts: 1_764_129_600_123_456
            }
        );
    }

    #[test]
    fn slow_path_on_pretty_fixtures() {
        assert_eq!(
            scan(&fixture("snapshot.json")),
            Scanned::Snapshot {
                seq: 42,
                ts: 1_764_129_600_123_456
            }
        );
        assert_eq!(scan(&fixture("hello.json")), Scanned::Hello);
        assert_eq!(scan(&compact(&fixture("hello.json"))), Scanned::Hello);
        assert_eq!(scan(&fixture("error.json")), Scanned::Error);
        assert_eq!(scan(&compact(&fixture("error.json"))), Scanned::Error);
        assert_eq!(scan(&fixture("pong.json")), Scanned::Other);
        assert_eq!(scan(b"not json"), Scanned::Invalid);
        assert_eq!(scan(b"{\"type\":\"snapshot\",\"seq\":1}"), Scanned::Invalid);
    }

    #[test]
    fn deltas_and_binary_messages_are_market_messages() {
        let delta = Scanned::Snapshot {
            seq: 43,
            ts: 1_764_129_601_123_456,
        };
        assert_eq!(scan(&fixture("delta.json")), delta);
        let wire = marketfeed_protocol::encode_server(
            &marketfeed_protocol::decode_server(&fixture("delta.json")).expect("decodes"),
        );
        assert_eq!(scan(&wire), delta);
        assert_eq!(scan_binary(&fixture("delta.bin")), delta);
        assert_eq!(
            scan_binary(&fixture("snapshot.bin")),
            Scanned::Snapshot {
                seq: 42,
                ts: 1_764_129_600_123_456
            }
        );
        assert_eq!(scan(&fixture("subscribed.json")), Scanned::Subscribed);
        assert_eq!(scan_binary(&[9, 1, 1]), Scanned::Invalid);
        assert_eq!(scan_binary(&[2, 0x80]), Scanned::Invalid);
    }
}
