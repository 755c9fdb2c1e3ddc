//! Parsing the server URL (`ws://127.0.0.1:PORT/path`, loopback only).

use std::net::SocketAddr;

/// Why the URL is not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not `ws://IP:PORT[/path]`.
    #[error("expected ws://IP:PORT/path, got {0:?}")]
    Syntax(String),
    /// The address is not on 127.0.0.0/8.
    #[error("{0} is not a loopback address; the load generator stays on 127.0.0.0/8")]
    NotLoopback(SocketAddr),
}

/// Where the clients connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Server socket address.
    pub addr: SocketAddr,
    /// Authority for the `Host` header.
    pub host: String,
    /// Request path.
    pub path: String,
}

/// Parses `url`.
pub fn parse(url: &str) -> Result<Target, TargetError> {
    let syntax = || TargetError::Syntax(url.to_owned());
    let rest = url.strip_prefix("ws://").ok_or_else(syntax)?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr: SocketAddr = host.parse().map_err(|_| syntax())?;
    if !addr.ip().is_loopback() {
        return Err(TargetError::NotLoopback(addr));
    }
    Ok(Target {
        addr,
        host: host.to_owned(),
        path: path.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_loopback_urls_only() {
        let t = parse("ws://127.0.0.1:8080/ws/market").expect("valid");
        assert_eq!(t.addr.port(), 8080);
        assert_eq!(t.path, "/ws/market");
        assert_eq!(
            parse("ws://127.0.0.1:1").map(|t| t.path),
            Ok("/".to_owned())
        );
        assert!(matches!(
            parse("ws://10.0.0.1:80/"),
            Err(TargetError::NotLoopback(_))
        ));
        assert!(matches!(
            parse("http://127.0.0.1:80/"),
            Err(TargetError::Syntax(_))
        ));
    }
}
