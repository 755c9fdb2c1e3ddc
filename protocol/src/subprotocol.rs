//! The `Sec-WebSocket-Protocol` names a client may offer, one per wire
//! format. The names are fixed: clients and tools depend on them.
//!
//! | name | format |
//! |---|---|
//! | `marketfeed.v1.json` (or none offered) | a full JSON snapshot every tick |
//! | `marketfeed.v2.json` | JSON keyframes and deltas |
//! | `marketfeed.v2.bin` | the v2 messages in the binary encoding (binary frames) |

use std::fmt;

/// A wire format, as named in the WebSocket handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subprotocol {
    /// `marketfeed.v1.json`: a full JSON snapshot every tick. What a client
    /// that offers no subprotocol gets.
    V1Json,
    /// `marketfeed.v2.json`: JSON keyframes and deltas.
    V2Json,
    /// `marketfeed.v2.bin`: keyframes and deltas in the binary encoding.
    V2Bin,
}

impl Subprotocol {
    /// Every format, oldest first.
    pub const ALL: [Self; 3] = [Self::V1Json, Self::V2Json, Self::V2Bin];

    /// The format of a connection that offered no subprotocol.
    pub const DEFAULT: Self = Self::V1Json;

    /// The name in `Sec-WebSocket-Protocol`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::V1Json => "marketfeed.v1.json",
            Self::V2Json => "marketfeed.v2.json",
            Self::V2Bin => "marketfeed.v2.bin",
        }
    }

    /// The format called `name` (exact, case-sensitive, as RFC 6455
    /// compares subprotocol tokens).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The first name in a `Sec-WebSocket-Protocol` header value (a comma
    /// list, in the client's order of preference) that this protocol
    /// knows. `None` when the list names none of them.
    pub fn choose(offer: &str) -> Option<Self> {
        offer.split(',').map(str::trim).find_map(Self::from_name)
    }

    /// Every name, comma-separated: what a refusal tells the client.
    pub fn supported_list() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

impl fmt::Display for Subprotocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Subprotocol::ALL {
            assert_eq!(Subprotocol::from_name(p.name()), Some(p));
        }
        assert_eq!(Subprotocol::from_name("MARKETFEED.V1.JSON"), None);
    }

    #[test]
    fn choose_takes_the_first_known_in_client_order() {
        assert_eq!(
            Subprotocol::choose("chat, marketfeed.v2.bin , marketfeed.v1.json"),
            Some(Subprotocol::V2Bin)
        );
        assert_eq!(Subprotocol::choose("chat,superchat"), None);
        assert_eq!(Subprotocol::choose(""), None);
        assert_eq!(
            Subprotocol::supported_list(),
            "marketfeed.v1.json, marketfeed.v2.json, marketfeed.v2.bin"
        );
    }
}
