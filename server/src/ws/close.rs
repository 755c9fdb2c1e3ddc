//! Close status codes (RFC 6455 §7.4) used by the server, plus the
//! application range codes (4000–4999) that marketfeed defines.
//!
//! [`CloseCode`] is a thin newtype over the wire value so that call sites read
//! `CloseCode::GOING_AWAY` rather than a bare `1001`, while any received code
//! (including ones this server never sends) can still be represented.

use std::fmt;

/// A WebSocket close status code, as carried in the first two bytes of a
/// Close frame's payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: the peer broke the framing protocol (unmasked frame, bad
    /// opcode, reserved bits, bad fragmentation, bad close payload…).
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: the peer sent a kind of data the endpoint cannot accept
    /// (marketfeed clients only send text).
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1007: a message's payload is inconsistent with its type, e.g. a text
    /// message that is not valid UTF-8.
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violates the server's policy (generic catch-all when
    /// no more specific code applies).
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message is larger than the server accepts.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1011: the server hit an unexpected condition and must close.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 4000 (application): the client sent nothing (no pong, no message)
    /// within the heartbeat interval plus timeout.
    pub const HEARTBEAT_TIMEOUT: Self = Self(4000);
    /// 4001 (application): reserved for authentication, sent when the
    /// client's credentials expire.
    pub const TOKEN_EXPIRED: Self = Self(4001);

    /// The numeric wire value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// A short human-readable reason for the codes marketfeed sends, fit to
    /// be the reason text of a Close frame; empty for other codes.
    pub const fn reason(self) -> &'static str {
        match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1007 => "invalid payload",
            1008 => "policy violation",
            1009 => "message too big",
            1011 => "internal error",
            4000 => "heartbeat timeout",
            4001 => "token expired",
            _ => "",
        }
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
    fn display_includes_reason_when_known() {
        assert_eq!(CloseCode::GOING_AWAY.to_string(), "1001 (going away)");
        assert_eq!(CloseCode(3000).to_string(), "3000");
    }
}
