//! `--scrape-metrics`: two of the server's counters, read from its
//! `/metrics` (Prometheus text) at both ends of the window.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::report::Encodes;

/// Longest wait for one scrape.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// `marketfeed_ticks_total` and `marketfeed_encodes_total` at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Counters {
    ticks: f64,
    encodes: f64,
}

impl Counters {
    /// What happened between `self` and the later `end`.
    pub fn until(self, end: Counters) -> Encodes {
        let ticks = end.ticks - self.ticks;
        let encodes = end.encodes - self.encodes;
        Encodes {
            ticks,
            encodes,
            per_tick: if ticks > 0.0 {
                (encodes / ticks * 100.0).round() / 100.0
            } else {
                0.0
            },
        }
    }
}

/// Reads the counters from `http://{host}/metrics` at `addr`; `None` when
/// the server does not answer or lacks them.
pub async fn read(addr: SocketAddr, host: &str) -> Option<Counters> {
    let attempt = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let request = format!("GET /metrics HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        parse(&String::from_utf8_lossy(&response))
    };
    tokio::time::timeout(SCRAPE_TIMEOUT, attempt).await.ok()?
}

fn parse(text: &str) -> Option<Counters> {
    let value = |name: &str| {
        text.lines().find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse::<f64>()
                .ok()
        })
    };
    Some(Counters {
        ticks: value("marketfeed_ticks_total")?,
        encodes: value("marketfeed_encodes_total")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_from_prometheus_text() {
        let a = parse(
            "HTTP/1.1 200 OK\r\n\r\n# HELP marketfeed_ticks Snapshots\nmarketfeed_ticks_total 10\nmarketfeed_encodes_total 40\nmarketfeed_encodes_total_other 1\n",
        )
        .expect("both counters");
        let b = parse("marketfeed_encodes_total 100\nmarketfeed_ticks_total 20\n").expect("both");
        let e = a.until(b);
        assert_eq!((e.ticks, e.encodes, e.per_tick), (10.0, 60.0, 6.0));
        assert_eq!(parse("marketfeed_ticks_total 1\n"), None);
    }
}
