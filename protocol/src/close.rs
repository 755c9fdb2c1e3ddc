//! WebSocket close codes (RFC 6455 §7.4) as marketfeed uses them: the
//! standard codes the server sends, the server's application codes
//! (4000–4099) and the browser client's own codes (4100–4199).
//!
//! [`CloseCode`] is a thin newtype over the wire value, so call sites read
//! `CloseCode::GOING_AWAY` rather than a bare `1001`, while any received
//! code (including ones marketfeed never sends) can still be represented.
//! [`CloseCode::TABLE`] lists every code marketfeed sends, with the reason
//! text it carries, who sends it and when; the README's close-code table
//! is generated from it ([`markdown_table`]) and checked by a test.
//!
//! A 1001 the server sends at shutdown may carry a reconnect spread in its
//! reason ([`going_away_reason`], read back by [`reconnect_spread_ms`]):
//! `going away; reconnect-spread=4500ms` asks each client to wait a delay
//! drawn uniformly from 0 to 4500 ms before its first reconnect, so that a
//! restarted node is not hit by every client in the same instant. Without
//! the suffix (the reason is plain `going away`) clients reconnect at once,
//! with their usual jitter.

use std::fmt;

/// A WebSocket close status code, as carried in the first two bytes of a
/// Close frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

/// Which side of a marketfeed connection sends a close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The server.
    Server,
    /// The browser client (`marketfeed-web-client`).
    Client,
    /// Either side (the echo of the peer's close).
    Either,
}

impl Sender {
    /// The word the close-code table uses.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Client => "client",
            Self::Either => "either",
        }
    }
}

/// One row of [`CloseCode::TABLE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseInfo {
    /// The code.
    pub code: CloseCode,
    /// Who sends it.
    pub sender: Sender,
    /// When it is sent.
    pub when: &'static str,
    /// What the receiver should do.
    pub then: &'static str,
}

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the framing protocol (unmasked frame, bad
    /// opcode, reserved bits, bad fragmentation, bad close payload…).
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the peer sent a kind of data the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1006: the connection ended without a Close frame. Never sent on the
    /// wire; browsers report it in their `close` event.
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: a message's payload is inconsistent with its type, e.g. a text
    /// message that is not valid UTF-8.
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violates the server's policy; marketfeed sends it
    /// when a client exceeds its message rate.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message is larger than the server accepts.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1011: the server hit an unexpected condition and must close.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 4000 (server): the client sent nothing (no pong, no message) within
    /// the heartbeat interval plus timeout.
    pub const HEARTBEAT_TIMEOUT: Self = Self(4000);
    /// 4001 (server): the connection's token reached its `exp`.
    pub const TOKEN_EXPIRED: Self = Self(4001);
    /// 4100 (client): nothing heard from the server for the liveness
    /// interval plus grace.
    pub const LIVENESS_TIMEOUT: Self = Self(4100);
    /// 4101 (client): the socket did not open and greet in time.
    pub const CONNECT_TIMEOUT: Self = Self(4101);
    /// 4102 (client): the server speaks an incompatible protocol version.
    pub const PROTOCOL_MISMATCH: Self = Self(4102);

    /// Every code marketfeed sends, in wire order.
    pub const TABLE: &'static [CloseInfo] = &[
        CloseInfo {
            code: Self::NORMAL,
            sender: Sender::Either,
            when: "a close the peer asked for (echo), or `close()` in the web client",
            then: "nothing: the connection is done",
        },
        CloseInfo {
            code: Self::GOING_AWAY,
            sender: Sender::Server,
            when: "server shutdown or restart; the reason may end in `; reconnect-spread=<ms>ms`, sized from the client count and the measured accept rate",
            then: "reconnect after a delay drawn uniformly from 0 to the spread (none: at once, with jitter)",
        },
        CloseInfo {
            code: Self::PROTOCOL_ERROR,
            sender: Sender::Server,
            when: "framing violation: unmasked frame, reserved bits, bad opcode, bad fragmentation, bad length, bad close payload",
            then: "fix the client",
        },
        CloseInfo {
            code: Self::INVALID_PAYLOAD,
            sender: Sender::Server,
            when: "a text message that is not UTF-8",
            then: "fix the client",
        },
        CloseInfo {
            code: Self::POLICY_VIOLATION,
            sender: Sender::Server,
            when: "more frames than `--client-msg-rate`/`--client-msg-burst` allow (every frame but Close, each fragment included)",
            then: "reconnect with backoff, send less",
        },
        CloseInfo {
            code: Self::MESSAGE_TOO_BIG,
            sender: Sender::Server,
            when: "a client message over `--max-message-size`",
            then: "send smaller messages",
        },
        CloseInfo {
            code: Self::HEARTBEAT_TIMEOUT,
            sender: Sender::Server,
            when: "no complete frame received for heartbeat interval + timeout (bytes of an unfinished frame do not count)",
            then: "reconnect with backoff",
        },
        CloseInfo {
            code: Self::TOKEN_EXPIRED,
            sender: Sender::Server,
            when: "the connection's token reached its `exp`",
            then: "fetch a fresh token and reconnect",
        },
        CloseInfo {
            code: Self::LIVENESS_TIMEOUT,
            sender: Sender::Client,
            when: "nothing heard from the server for the liveness interval + grace",
            then: "the client reconnects with backoff",
        },
        CloseInfo {
            code: Self::CONNECT_TIMEOUT,
            sender: Sender::Client,
            when: "the socket did not open and receive `hello` within the connect timeout",
            then: "the client reconnects with backoff",
        },
        CloseInfo {
            code: Self::PROTOCOL_MISMATCH,
            sender: Sender::Client,
            when: "`hello` announced another protocol version",
            then: "the client stops (state `closed`)",
        },
    ];

    /// The numeric wire value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The reason text marketfeed puts in a Close frame with this code;
    /// empty for codes marketfeed does not send. The server's framing
    /// errors (1002, 1007, 1009) may carry a more precise reason.
    pub const fn reason(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1007 => "invalid payload",
            1008 => "message rate limit exceeded",
            1009 => "message too big",
            1011 => "internal error",
            4000 => "heartbeat timeout",
            4001 => "token expired",
            4100 => "liveness timeout",
            4101 => "connect timeout",
            4102 => "protocol version mismatch",
            _ => "",
        }
    }

    /// The row of [`Self::TABLE`] for this code, if marketfeed sends it.
    pub fn info(self) -> Option<&'static CloseInfo> {
        Self::TABLE.iter().find(|row| row.code == self)
    }

    /// Whether a peer may put this code in a Close frame (RFC 6455 §7.4).
    ///
    /// Codes below 1000, 1004–1006 and 1015 (which must never be sent),
    /// the unassigned 1016–2999 and anything from 5000 up are rejected;
    /// 1012–1014 (registered with IANA after the RFC) are accepted.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            "" => write!(f, "{}", self.0),
            reason => write!(f, "{} ({reason})", self.0),
        }
    }
}

/// What precedes the spread in a 1001's reason.
const SPREAD_PREFIX: &str = "; reconnect-spread=";
/// What follows it.
const SPREAD_UNIT: &str = "ms";

/// The reason of the server's 1001: `going away`, and with a non-zero
/// `spread_ms` the reconnect spread, `going away; reconnect-spread=4500ms`
/// (at most 47 bytes, well within a Close frame's 123).
pub fn going_away_reason(spread_ms: u64) -> String {
    let base = CloseCode::GOING_AWAY.reason();
    if spread_ms == 0 {
        base.to_owned()
    } else {
        format!("{base}{SPREAD_PREFIX}{spread_ms}{SPREAD_UNIT}")
    }
}

/// The reconnect spread in milliseconds a 1001's reason carries, if any
/// ([`going_away_reason`]'s format; anything else is `None`).
pub fn reconnect_spread_ms(reason: &str) -> Option<u64> {
    let digits = reason
        .strip_prefix(CloseCode::GOING_AWAY.reason())?
        .strip_prefix(SPREAD_PREFIX)?
        .strip_suffix(SPREAD_UNIT)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// [`CloseCode::TABLE`] as the Markdown table the README shows.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| code | sent by | reason | when | then |\n|---|---|---|---|---|\n");
    for row in CloseCode::TABLE {
        out.push_str(&format!(
            "| {} | {} | `{}` | {} | {} |\n",
            row.code.0,
            row.sender.as_str(),
            row.code.reason(),
            row.when,
            row.then
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_values_match_the_rfc_and_app_range() {
        let table = [
            (CloseCode::NORMAL, 1000),
            (CloseCode::GOING_AWAY, 1001),
            (CloseCode::PROTOCOL_ERROR, 1002),
            (CloseCode::UNSUPPORTED_DATA, 1003),
            (CloseCode::INVALID_PAYLOAD, 1007),
            (CloseCode::POLICY_VIOLATION, 1008),
            (CloseCode::MESSAGE_TOO_BIG, 1009),
            (CloseCode::INTERNAL_ERROR, 1011),
            (CloseCode::HEARTBEAT_TIMEOUT, 4000),
            (CloseCode::TOKEN_EXPIRED, 4001),
            (CloseCode::LIVENESS_TIMEOUT, 4100),
            (CloseCode::CONNECT_TIMEOUT, 4101),
            (CloseCode::PROTOCOL_MISMATCH, 4102),
        ];
        for (code, value) in table {
            assert_eq!(u16::from(code), value);
            assert_eq!(CloseCode::from(value), code);
            assert!(code.is_valid_on_wire(), "{code} must be sendable");
            assert!(!code.reason().is_empty());
            assert!(code.reason().len() <= 123);
        }
        assert_eq!(CloseCode::HEARTBEAT_TIMEOUT.reason(), "heartbeat timeout");
    }

    #[test]
    fn every_code_sent_is_tabled_once_with_a_sendable_reason() {
        for (i, row) in CloseCode::TABLE.iter().enumerate() {
            assert!(row.code.is_valid_on_wire(), "{}", row.code);
            assert!(!row.code.reason().is_empty(), "{}", row.code);
            assert!(!row.when.is_empty() && !row.then.is_empty());
            assert_eq!(row.code.info(), Some(row));
            let later = &CloseCode::TABLE[i + 1..];
            assert!(
                later.iter().all(|r| r.code.0 > row.code.0),
                "sorted, unique"
            );
        }
        // The client's own codes never collide with the server's.
        for row in CloseCode::TABLE {
            match row.sender {
                Sender::Client => assert!((4100..4200).contains(&row.code.0)),
                Sender::Server => assert!(row.code.0 < 4100),
                Sender::Either => assert_eq!(row.code, CloseCode::NORMAL),
            }
        }
        assert!(CloseCode::ABNORMAL.info().is_none());
    }

    #[test]
    fn reserved_and_unassigned_codes_are_invalid_on_wire() {
        for code in [
            0,
            999,
            1004,
            1005,
            1006,
            1015,
            1016,
            2000,
            2999,
            5000,
            u16::MAX,
        ] {
            assert!(!CloseCode(code).is_valid_on_wire(), "{code}");
        }
        for code in [1000, 1003, 1007, 1011, 1012, 1014, 3000, 4999] {
            assert!(CloseCode(code).is_valid_on_wire(), "{code}");
        }
    }

    #[test]
    fn reconnect_spread_round_trips_through_the_going_away_reason() {
        assert_eq!(going_away_reason(0), "going away");
        assert_eq!(reconnect_spread_ms("going away"), None);
        for ms in [1, 4_500, 60_000, u64::MAX] {
            let reason = going_away_reason(ms);
            assert!(reason.len() <= 123, "{reason}");
            assert_eq!(reconnect_spread_ms(&reason), Some(ms), "{reason}");
        }
        assert_eq!(
            going_away_reason(4_500),
            "going away; reconnect-spread=4500ms"
        );
        for bad in [
            "",
            "heartbeat timeout; reconnect-spread=10ms",
            "going away; reconnect-spread=ms",
            "going away; reconnect-spread=-5ms",
            "going away; reconnect-spread=+5ms",
            "going away; reconnect-spread=5",
            "going away; reconnect-spread=5s",
            "going away; reconnect-spread=99999999999999999999ms",
        ] {
            assert_eq!(reconnect_spread_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn display_includes_reason_when_known() {
        assert_eq!(CloseCode::GOING_AWAY.to_string(), "1001 (going away)");
        assert_eq!(CloseCode(3000).to_string(), "3000");
    }
}
