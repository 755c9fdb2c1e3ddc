//! The `Origin` allow-list against cross-site WebSocket hijacking.
//!
//! Browsers always send `Origin` on a WebSocket handshake and pages cannot
//! forge it; non-browser clients usually send none. With an allow-list
//! configured, a handshake whose `Origin` is not on it gets 403; one
//! without `Origin` is allowed (it is not a browser acting for a user).
//!
//! With no list (the default) every origin is allowed: the feed is public,
//! read-only market data and authentication, when on, uses a token the
//! page must hold — not a cookie a foreign page could ride on.

use warp::http::{header, HeaderMap};

/// Allowed origins, normalised (see `config`); empty allows all.
#[derive(Debug, Clone, Default)]
pub struct OriginPolicy {
    allowed: Vec<String>,
}

impl OriginPolicy {
    /// A policy allowing exactly `allowed` (lower-case, no trailing slash);
    /// empty allows every origin.
    pub fn new(allowed: Vec<String>) -> Self {
        Self { allowed }
    }

    /// Whether the request may proceed.
    pub fn allows(&self, headers: &HeaderMap) -> bool {
        if self.allowed.is_empty() {
            return true;
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        let origin = origin.trim_end_matches('/');
        self.allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_origin(o: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = o.parse() {
            h.insert(header::ORIGIN, v);
        }
        h
    }

    #[test]
    fn exact_origins_only_and_absent_origin_passes() {
        let p = OriginPolicy::new(vec!["https://board.example.com".into()]);
        assert!(p.allows(&with_origin("https://board.example.com")));
        assert!(p.allows(&with_origin("https://BOARD.example.com")));
        assert!(!p.allows(&with_origin("https://evil.example.com")));
        assert!(!p.allows(&with_origin("http://board.example.com")));
        assert!(!p.allows(&with_origin("https://board.example.com:8443")));
        assert!(!p.allows(&with_origin("null")));
        assert!(p.allows(&HeaderMap::new()));
        assert!(OriginPolicy::default().allows(&with_origin("https://anything")));
    }
}
