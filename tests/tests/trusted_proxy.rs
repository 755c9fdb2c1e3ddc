//! `--trusted-proxy` over real sockets: behind a trusted proxy the per-IP
//! limit counts the address the proxy forwards; a forwarding header from
//! an untrusted peer changes nothing.

#![allow(clippy::unwrap_used, missing_docs)]

mod common;
mod harden;

use common::*;
use harden::*;

const WS: &str = "/ws/market";

async fn status(addr: std::net::SocketAddr, forwarded_for: &str) -> (u16, tokio::net::TcpStream) {
    let header = format!("X-Forwarded-For: {forwarded_for}");
    let (head, s) = handshake(addr, WS, &[header.as_str()]).await;
    (head.status, s)
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let mut c = config();
    c.max_connections_per_ip = 2;
    c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let server = start(c).await;
    let addr = server.local_addr();

    let (a1, s1) = status(addr, "203.0.113.7").await;
    // The client prepended a spoofed hop: the proxy's own entry counts.
    let (a2, s2) = status(addr, "198.51.100.1, 203.0.113.7").await;
    assert_eq!((a1, a2), (101, 101));
    let (a3, _) = status(addr, "203.0.113.7").await;
    assert_eq!(a3, 429, "203.0.113.7 is at its limit of 2");
    let (b1, s3) = status(addr, "203.0.113.8").await;
    assert_eq!(
        b1, 101,
        "another client behind the same proxy is not affected"
    );
    // No header: the proxy itself, loopback, exempt by default.
    let (plain, s4) = handshake(addr, WS, &[]).await;
    assert_eq!(plain.status, 101);
    assert_eq!(server.connection_slots(), 4);

    // A slot is freed when its connection goes.
    drop(s1);
    eventually(|| server.connection_slots() == 3).await;
    let (again, _s5) = status(addr, "203.0.113.7").await;
    assert_eq!(again, 101);
    drop((s2, s3, s4));
}

#[tokio::test]
async fn a_forwarding_header_from_an_untrusted_peer_is_ignored() {
    let mut c = config();
    c.max_connections_per_ip = 2;
    c.limit_loopback = true;
    // Loopback is not a trusted proxy here.
    c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    let server = start(c).await;
    let addr = server.local_addr();
    let (a, _s1) = status(addr, "203.0.113.1").await;
    let (b, _s2) = status(addr, "203.0.113.2").await;
    assert_eq!((a, b), (101, 101));
    let (spoofed, _) = status(addr, "203.0.113.3").await;
    assert_eq!(spoofed, 429, "all three are 127.0.0.1, whatever they claim");
}
