//! Every reason a WebSocket handshake is refused, defined once: its
//! metrics label, its HTTP status and the plain-text reason the client
//! reads all come from [`Rejection`].

use warp::http::StatusCode;

/// Why a handshake was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// Not a valid WebSocket handshake (400, or 426 for a wrong version).
    BadHandshake,
    /// `Sec-WebSocket-Protocol` offers only formats marketfeed does not
    /// speak (400, the body names the supported ones).
    UnsupportedSubprotocol,
    /// `Origin` not in `--allowed-origin` (403).
    ForbiddenOrigin,
    /// Authentication on and no token given (401).
    MissingToken,
    /// Not a JWT, or not one marketfeed accepts (401).
    MalformedToken,
    /// The signature does not match the server's secret (401).
    BadSignature,
    /// `exp` is past (401).
    ExpiredToken,
    /// `--max-connections` reached (503).
    ServerFull,
    /// `--max-connections-per-ip` reached for the address (429).
    IpLimit,
    /// Shutdown (drain) has begun (503).
    Draining,
    /// The request head is over `--max-request-head`, or has too many
    /// headers (431, answered by the HTTP layer).
    HeadTooLarge,
    /// `--max-pending-handshakes` connections are not yet upgraded: the new
    /// one is closed at accept, without an answer.
    PendingLimit,
}

impl Rejection {
    /// Every rejection, in the order the metrics list them.
    pub const ALL: [Self; 12] = [
        Self::BadHandshake,
        Self::UnsupportedSubprotocol,
        Self::ForbiddenOrigin,
        Self::MissingToken,
        Self::MalformedToken,
        Self::BadSignature,
        Self::ExpiredToken,
        Self::ServerFull,
        Self::IpLimit,
        Self::Draining,
        Self::HeadTooLarge,
        Self::PendingLimit,
    ];

    /// The `reason` label of `marketfeed_connections_rejected_total`.
    pub const fn label(self) -> &'static str {
        match self {
            Self::BadHandshake => "bad_handshake",
            Self::UnsupportedSubprotocol => "unsupported_subprotocol",
            Self::ForbiddenOrigin => "forbidden_origin",
            Self::MissingToken => "missing_token",
            Self::MalformedToken => "malformed_token",
            Self::BadSignature => "bad_signature",
            Self::ExpiredToken => "expired_token",
            Self::ServerFull => "server_full",
            Self::IpLimit => "ip_limit",
            Self::Draining => "draining",
            Self::HeadTooLarge => "head_too_large",
            Self::PendingLimit => "pending_limit",
        }
    }

    /// The plain-text body of the answer. A bad handshake answers with
    /// what exactly is wrong instead (see `ws::HandshakeError`).
    pub const fn reason(self) -> &'static str {
        match self {
            Self::BadHandshake => "not a WebSocket handshake",
            Self::UnsupportedSubprotocol => "no supported subprotocol offered",
            Self::ForbiddenOrigin => "origin not allowed",
            Self::MissingToken => "missing token",
            Self::MalformedToken => "malformed token",
            Self::BadSignature => "invalid token signature",
            Self::ExpiredToken => "token expired",
            Self::ServerFull => "server is at its connection limit",
            Self::IpLimit => "too many connections from this address",
            Self::Draining => "server is shutting down",
            Self::HeadTooLarge => "request header fields too large",
            Self::PendingLimit => "too many pending handshakes",
        }
    }

    /// The HTTP status of the answer.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::BadHandshake | Self::UnsupportedSubprotocol => StatusCode::BAD_REQUEST,
            Self::ForbiddenOrigin => StatusCode::FORBIDDEN,
            Self::MissingToken | Self::MalformedToken | Self::BadSignature | Self::ExpiredToken => {
                StatusCode::UNAUTHORIZED
            }
            Self::ServerFull | Self::Draining => StatusCode::SERVICE_UNAVAILABLE,
            Self::IpLimit => StatusCode::TOO_MANY_REQUESTS,
            Self::HeadTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            // Never sent: the connection is closed at accept. 503 is what
            // it means.
            Self::PendingLimit => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// Whether the answer carries `Retry-After` (the refusal is about
    /// load, not about the client).
    pub const fn retry_later(self) -> bool {
        matches!(self, Self::ServerFull | Self::IpLimit | Self::Draining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_reasons_are_distinct() {
        for (i, a) in Rejection::ALL.iter().enumerate() {
            for b in &Rejection::ALL[i + 1..] {
                assert_ne!(a.label(), b.label());
                assert_ne!(a.reason(), b.reason());
            }
            assert!(a.status().is_client_error() || a.status().is_server_error());
        }
    }
}
