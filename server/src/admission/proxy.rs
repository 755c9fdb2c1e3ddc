//! Trusted reverse proxies: for a peer inside a `--trusted-proxy` range the
//! client's address is taken from `X-Forwarded-For` (or, without one, from
//! RFC 7239 `Forwarded: for=`), so per-IP limits and logs see the real
//! client behind an nginx or a load balancer.
//!
//! The list is read from the right (the hop nearest to us) and the first
//! address that is not itself a trusted proxy is the client: a client can
//! prepend anything it likes, but it cannot append past the proxy that
//! adds its real address. Headers from untrusted peers are ignored, so
//! they cannot spoof an address. An entry that is not an address ends the
//! walk at the last trusted hop.

use std::net::IpAddr;
use std::str::FromStr;

use warp::http::HeaderMap;

/// An address range in CIDR notation (`10.0.0.0/8`, `::1/128`, or a bare
/// address for a single host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("{s:?} is not an address range like 10.0.0.0/8 or ::1/128"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0–{max}"))?,
        };
        Ok(Self { addr, prefix })
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Cidr {
    /// Whether `ip` lies in the range (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// The `--trusted-proxy` ranges.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Vec<Cidr>,
}

impl TrustedProxies {
    /// Trusts peers in `ranges` (none: every peer is the client itself).
    pub fn new(ranges: Vec<Cidr>) -> Self {
        Self { ranges }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|r| r.contains(ip))
    }

    /// The client's address for a request from `peer` with `headers`.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for(headers);
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// The hops of `X-Forwarded-For` (every such header, in order), or else of
/// `Forwarded`'s `for=` parameters.
fn forwarded_for(headers: &HeaderMap) -> Vec<String> {
    let xff: Vec<String> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .collect();
    if !xff.is_empty() {
        return xff;
    }
    headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|element| {
            element.split(';').find_map(|pair| {
                let (k, v) = pair.split_once('=')?;
                k.trim()
                    .eq_ignore_ascii_case("for")
                    .then(|| v.trim().trim_matches('"').to_owned())
            })
        })
        .collect()
}

/// An address from a hop: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]:4711`. `unknown` and obfuscated names are not addresses.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse() {
        return Some(ip);
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest.split_once(']')?.0.parse().ok();
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use warp::http::HeaderValue;

    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn proxies(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| r.parse().unwrap()).collect())
    }

    #[test]
    fn ranges_parse_and_match() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.255.3")) && !net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        let host: Cidr = "127.0.0.1".parse().unwrap();
        assert!(host.contains(ip("127.0.0.1")) && !host.contains(ip("127.0.0.2")));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains(ip("2001:db8:1::5")) && !v6.contains(ip("2001:db9::1")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("203.0.113.1")) && !all.contains(ip("::1")));
        for bad in ["10.0.0.0/33", "::/129", "ten/8", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_right_most_untrusted_hop_is_the_client() {
        let p = proxies(&["127.0.0.1/32", "10.0.0.0/8"]);
        let peer = ip("127.0.0.1");
        let h = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(p.client_ip(peer, &h), ip("203.0.113.7"));
        // Several headers read as one list.
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-for", "203.0.113.8"),
        ]);
        assert_eq!(p.client_ip(peer, &h), ip("203.0.113.8"));
        // Only trusted hops: the left-most of them.
        let h = headers(&[("x-forwarded-for", "10.0.0.9, 10.0.0.2")]);
        assert_eq!(p.client_ip(peer, &h), ip("10.0.0.9"));
        // Garbage stops the walk at the last trusted hop.
        let h = headers(&[("x-forwarded-for", "203.0.113.7, nonsense, 10.0.0.2")]);
        assert_eq!(p.client_ip(peer, &h), ip("10.0.0.2"));
        // No header: the peer.
        assert_eq!(p.client_ip(peer, &HeaderMap::new()), peer);
    }

    #[test]
    fn headers_from_untrusted_peers_are_ignored() {
        let p = proxies(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
        assert_eq!(
            TrustedProxies::default().client_ip(ip("10.0.0.1"), &h),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let p = proxies(&["127.0.0.0/8"]);
        let h = headers(&[(
            "forwarded",
            r#"for=198.51.100.1;proto=https, for="[2001:db8::1]:4711";by=127.0.0.1"#,
        )]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("2001:db8::1"));
        let h = headers(&[("forwarded", "for=203.0.113.5:80")]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("203.0.113.5"));
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(p.client_ip(ip("127.0.0.1"), &h), ip("127.0.0.1"));
    }
}
