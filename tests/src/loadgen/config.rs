//! Command-line options of `marketfeed-loadgen`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use clap::Parser;

/// Opens N WebSocket clients against a marketfeed server and measures
/// snapshot delivery latency, gaps and the server's cost.
#[derive(Debug, Clone, Parser)]
#[command(name = "marketfeed-loadgen", version)]
pub struct Config {
    /// WebSocket URL of the server (loopback only).
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws/market")]
    pub url: String,
    /// Number of clients to open.
    #[arg(long, short = 'n', default_value_t = 100)]
    pub clients: u64,
    /// Connection attempts started per second during the ramp.
    #[arg(long, default_value_t = 2000.0)]
    pub ramp_rate: f64,
    /// Length of the measurement window, after every client settled.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Pause between the end of the ramp and the window.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub warmup: Duration,
    /// Limit for one client's connect + upgrade.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub connect_timeout: Duration,
    /// Local addresses to spread client sockets over (comma separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4"
    )]
    pub source_addrs: Vec<IpAddr>,
    /// Fraction of clients that upgrade and then never read (0.01 = 1 %).
    #[arg(long, default_value_t = 0.0)]
    pub stalled_fraction: f64,
    /// Pid of the server, to read its RSS and CPU time from /proc.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Largest frame accepted, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_frame: usize,
    /// `Sec-WebSocket-Protocol` to offer (e.g. `marketfeed.v2.bin`); none
    /// by default (the server then speaks `marketfeed.v1.json`). The
    /// server must choose it, or the client counts as a connect failure.
    /// Several, comma separated: client i offers the (i mod n)-th.
    #[arg(long, value_delimiter = ',')]
    pub subprotocol: Vec<String>,
    /// Subscription sets: `;`-separated lists of comma-separated symbols
    /// (`ACB,FPT;VNM,HPG`). Client i sends `subscribe` with set (i mod n)
    /// right after its upgrade; by default clients take every symbol.
    #[arg(long)]
    pub subscribe: Option<String>,
    /// Read `marketfeed_ticks_total` and `marketfeed_encodes_total` from
    /// the server's `/metrics` (the URL's host) at both ends of the
    /// window and report the encodes per tick.
    #[arg(long)]
    pub scrape_metrics: bool,
    /// Offer permessage-deflate (as browsers do) and inflate compressed
    /// snapshots before parsing them; the report's `mean_wire_bytes` is
    /// then the compressed size. A client whose offer is declined fails.
    #[arg(long)]
    pub deflate: bool,
    /// Free-form label copied into the JSON line.
    #[arg(long, default_value = "")]
    pub label: String,
}

impl Config {
    /// Whether client `i` is one of the stalled ones: spread evenly so
    /// that `stalled_fraction` of every stretch of clients never reads.
    pub fn is_stalled(&self, i: u64) -> bool {
        let f = self.stalled_fraction.clamp(0.0, 1.0);
        ((i + 1) as f64 * f).floor() > (i as f64 * f).floor()
    }

    /// The `--subscribe` sets, empty when not given.
    pub fn subscription_sets(&self) -> Vec<Vec<String>> {
        let Some(sets) = &self.subscribe else {
            return Vec::new();
        };
        sets.split(';')
            .map(|set| {
                set.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .collect()
    }

    /// The `--subprotocol`s offered, as one string for the report.
    pub fn subprotocols_label(&self) -> Option<String> {
        (!self.subprotocol.is_empty()).then(|| self.subprotocol.join(","))
    }

    /// The source address of client `i`.
    pub fn source_of(&self, i: u64) -> IpAddr {
        let n = self.source_addrs.len().max(1) as u64;
        self.source_addrs
            .get((i % n) as usize)
            .copied()
            .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stalled_spread_and_sources() {
        let c = Config::parse_from(["x", "--stalled-fraction", "0.01"]);
        assert_eq!((0..1000).filter(|i| c.is_stalled(*i)).count(), 10);
        assert_eq!(c.source_of(5).to_string(), "127.0.0.2");
        let none = Config::parse_from(["x"]);
        assert!(!(0..1000).any(|i| none.is_stalled(i)));
        assert!(none.subscription_sets().is_empty());
        assert_eq!(none.subprotocols_label(), None);
    }

    #[test]
    fn subscription_sets_and_subprotocols() {
        let c = Config::parse_from([
            "x",
            "--subscribe",
            "ACB, FPT;VNM",
            "--subprotocol",
            "marketfeed.v2.json,marketfeed.v2.bin",
        ]);
        assert_eq!(
            c.subscription_sets(),
            vec![
                vec!["ACB".to_owned(), "FPT".to_owned()],
                vec!["VNM".to_owned()]
            ]
        );
        assert_eq!(c.subprotocol.len(), 2);
        assert_eq!(
            c.subprotocols_label().as_deref(),
            Some("marketfeed.v2.json,marketfeed.v2.bin")
        );
    }
}
