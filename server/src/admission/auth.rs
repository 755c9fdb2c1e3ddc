//! Token authentication: HS256 JWTs (the `jsonwebtoken` crate) with a
//! required `exp`, checked before the WebSocket upgrade.
//!
//! Browsers cannot set headers on a WebSocket, so the token is taken from
//! the `token` query parameter, or from `Authorization: Bearer` for native
//! clients. A token is never logged: only its subject (`sub`) is.
//!
//! Expiry is exact (no leeway): the server and the issuer are expected to
//! share a clock (NTP). A connection whose token expires while it is open
//! is closed with 4001 `token expired` at `exp`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use warp::http::{header, HeaderMap};

use super::Rejection;

/// Shortest secret accepted: 256 bits, the size of the HS256 hash.
pub const MIN_SECRET_LEN: usize = 32;

/// The HS256 secret. Its `Debug` never shows the bytes.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from raw bytes; one trailing newline (as left by `echo` or
    /// an editor in a secret file) is removed.
    pub fn new(mut raw: Vec<u8>) -> Result<Self, KeyError> {
        while raw.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            raw.pop();
        }
        if raw.len() < MIN_SECRET_LEN {
            return Err(KeyError::SecretTooShort {
                min: MIN_SECRET_LEN,
                len: raw.len(),
            });
        }
        Ok(Self(raw))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The claims marketfeed reads and writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token was issued to; recorded in log lines.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sub: String,
    /// Expiry, unix seconds (required).
    pub exp: u64,
    /// Issued at, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
}

impl Claims {
    /// Time left until `exp`, zero if already past.
    pub fn remaining(&self) -> Duration {
        Duration::from_secs(self.exp).saturating_sub(since_epoch())
    }
}

/// Why a request was not authenticated; each is one [`Rejection`] (a 401),
/// whose reason is its `Display` text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `token` parameter and no `Authorization: Bearer` header.
    #[error("{}", Rejection::MissingToken.reason())]
    Missing,
    /// Not a JWT, or not one marketfeed accepts (algorithm, claims).
    #[error("{}", Rejection::MalformedToken.reason())]
    Malformed,
    /// The signature does not match the server's secret.
    #[error("{}", Rejection::BadSignature.reason())]
    BadSignature,
    /// `exp` is in the past.
    #[error("{}", Rejection::ExpiredToken.reason())]
    Expired,
}

impl AuthError {
    /// The refusal this failure is.
    pub const fn rejection(&self) -> Rejection {
        match self {
            Self::Missing => Rejection::MissingToken,
            Self::Malformed => Rejection::MalformedToken,
            Self::BadSignature => Rejection::BadSignature,
            Self::Expired => Rejection::ExpiredToken,
        }
    }
}

/// Why a secret or a token signed with it cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The secret is too short for HS256.
    #[error("the auth secret must be at least {min} bytes (got {len}); generate one with `openssl rand -hex 32`")]
    SecretTooShort {
        /// Bytes required.
        min: usize,
        /// Bytes given.
        len: usize,
    },
    /// Signing failed (only when minting).
    #[error("cannot sign the token")]
    Sign,
}

/// Verifies tokens with one secret.
#[derive(Clone)]
pub struct Authenticator {
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Authenticator(HS256)")
    }
}

impl Authenticator {
    /// A verifier for tokens signed with `secret`.
    pub fn new(secret: &Secret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp"]);
        Self {
            decoding: DecodingKey::from_secret(&secret.0),
            validation,
        }
    }

    /// Checks `token` and returns its claims.
    pub fn verify(&self, token: &str) -> Result<Claims, AuthError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Malformed,
            })?;
        // jsonwebtoken accepts `exp == now`; at `exp` the token is over.
        if data.claims.remaining().is_zero() {
            return Err(AuthError::Expired);
        }
        Ok(data.claims)
    }
}

/// Signs a token for `subject` valid for `ttl` from now.
pub fn mint(secret: &Secret, subject: &str, ttl: Duration) -> Result<String, KeyError> {
    let now = since_epoch().as_secs();
    let claims = Claims {
        sub: subject.to_owned(),
        exp: now.saturating_add(ttl.as_secs().max(1)),
        iat: Some(now),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&secret.0),
    )
    .map_err(|_| KeyError::Sign)
}

/// The token a request carries: the `token` query parameter, else an
/// `Authorization: Bearer` header.
pub fn token_from_request<'a>(query: Option<&'a str>, headers: &'a HeaderMap) -> Option<&'a str> {
    let from_query = query.and_then(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == "token")
            .map(|(_, v)| v)
    });
    from_query.filter(|t| !t.is_empty()).or_else(|| {
        headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
    })
}

fn since_epoch() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn secret(c: u8) -> Secret {
        Secret::new(vec![c; 40]).unwrap()
    }

    #[test]
    fn minted_token_verifies_and_carries_the_subject() {
        let s = secret(b'a');
        let token = mint(&s, "alice", Duration::from_secs(60)).unwrap();
        let claims = Authenticator::new(&s).verify(&token).unwrap();
        assert_eq!(claims.sub, "alice");
        assert!(claims.remaining() > Duration::from_secs(58));
    }

    #[test]
    fn each_failure_has_its_kind() {
        let s = secret(b'a');
        let auth = Authenticator::new(&s);
        let other = mint(&secret(b'b'), "x", Duration::from_secs(60)).unwrap();
        assert_eq!(auth.verify(&other), Err(AuthError::BadSignature));
        assert_eq!(auth.verify("not.a.jwt"), Err(AuthError::Malformed));
        assert_eq!(auth.verify(""), Err(AuthError::Malformed));
        let past = Claims {
            sub: "x".into(),
            exp: since_epoch().as_secs() - 10,
            iat: None,
        };
        let expired = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &past,
            &EncodingKey::from_secret(&s.0),
        )
        .unwrap();
        assert_eq!(auth.verify(&expired), Err(AuthError::Expired));
        // No `exp` at all.
        let no_exp = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &serde_json::json!({"sub": "x"}),
            &EncodingKey::from_secret(&s.0),
        )
        .unwrap();
        assert_eq!(auth.verify(&no_exp), Err(AuthError::Malformed));
        // Another algorithm with the same secret.
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &Claims {
                sub: "x".into(),
                exp: since_epoch().as_secs() + 60,
                iat: None,
            },
            &EncodingKey::from_secret(&s.0),
        )
        .unwrap();
        assert_eq!(auth.verify(&hs512), Err(AuthError::Malformed));
    }

    #[test]
    fn secrets_are_checked_and_never_shown() {
        assert!(Secret::new(b"short\n".to_vec()).is_err());
        let s = Secret::new([b"k".repeat(32), b"\n".to_vec()].concat()).unwrap();
        assert_eq!(s.0.len(), 32);
        assert!(!format!("{s:?}").contains('k'));
    }

    #[test]
    fn token_is_found_in_query_then_header() {
        let mut h = HeaderMap::new();
        assert_eq!(token_from_request(None, &h), None);
        assert_eq!(token_from_request(Some("a=1&token=abc"), &h), Some("abc"));
        assert_eq!(token_from_request(Some("token="), &h), None);
        h.insert(header::AUTHORIZATION, "Bearer xyz".parse().unwrap());
        assert_eq!(token_from_request(Some("a=1"), &h), Some("xyz"));
        assert_eq!(token_from_request(Some("token=q"), &h), Some("q"));
        h.insert(header::AUTHORIZATION, "Basic xyz".parse().unwrap());
        assert_eq!(token_from_request(None, &h), None);
    }
}
