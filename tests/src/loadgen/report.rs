//! The result of one run: a JSON line and a human summary.

use hdrhistogram::Histogram;
use serde::Serialize;

/// Percentiles of one latency distribution, microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest sample.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// Summarises `h`.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    }
}

/// Server resource use, when its pid was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ServerUse {
    /// RSS before the first client connected, KiB.
    pub rss_before_kib: u64,
    /// RSS once every client settled (after the warm-up), KiB.
    pub rss_connected_kib: u64,
    /// RSS at the end of the window, KiB.
    pub rss_end_kib: u64,
    /// (connected − before) / connected clients, KiB.
    pub rss_per_client_kib: f64,
    /// Server CPU time spent during the window, seconds.
    pub cpu_s: f64,
    /// Server CPU seconds per 1,000 delivered messages.
    pub cpu_s_per_1k_msgs: f64,
    /// The same, microseconds per delivered message.
    pub cpu_us_per_msg: f64,
}

/// Frames the server encoded over the window, against its ticks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Encodes {
    /// `marketfeed_ticks_total` difference.
    pub ticks: f64,
    /// `marketfeed_encodes_total` difference.
    pub encodes: f64,
    /// `encodes / ticks`.
    pub per_tick: f64,
}

/// One run's results; serialised as the JSON line.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Report {
    /// `--label`.
    pub label: String,
    /// Clients asked for.
    pub clients: u64,
    /// Healthy clients that completed the upgrade.
    pub connected: u64,
    /// Stalled clients that completed the upgrade.
    pub stalled: u64,
    /// Failed connects/upgrades.
    pub connect_failures: u64,
    /// Connections lost before the end.
    pub disconnects: u64,
    /// Seconds from the first connect to every client settled.
    pub ramp_s: f64,
    /// Window length, seconds.
    pub duration_s: f64,
    /// Tick interval announced in `hello`, ms.
    pub tick_interval_ms: Option<u64>,
    /// Snapshots timed in the window.
    pub messages: u64,
    /// Snapshots received over the whole run.
    pub messages_total: u64,
    /// Mean market message (snapshot or delta) payload size in the
    /// window, bytes (inflated, when compressed).
    pub mean_msg_bytes: u64,
    /// The subprotocol offered (and chosen), if any.
    pub subprotocol: Option<String>,
    /// Market messages of the window that came in binary frames.
    pub binary_messages: u64,
    /// Bytes read from the sockets in the window, every frame with its
    /// header.
    pub wire_bytes: u64,
    /// `wire_bytes` per live client per second of the window.
    pub wire_bytes_per_client_s: f64,
    /// `--deflate`: permessage-deflate was offered (and accepted).
    pub deflate: bool,
    /// Mean size of a window snapshot on the wire, frame headers
    /// included (compressed, with `--deflate`), bytes.
    pub mean_wire_bytes: u64,
    /// Messages received compressed (RSV1), whole run.
    pub compressed_msgs: u64,
    /// `messages / duration_s`.
    pub msgs_per_s: f64,
    /// Latency by kernel receive time (`SO_TIMESTAMPNS`), µs.
    pub latency_kernel_us: Latency,
    /// Latency by user-space receive time, µs.
    pub latency_user_us: Latency,
    /// Per tick: last kernel receive time − `ts`, µs (ticks every healthy
    /// client received in the window).
    pub fanout_last_us: Latency,
    /// Per tick: last − first kernel receive time across clients, µs.
    pub fanout_spread_us: Latency,
    /// Sequence numbers missed, summed over clients.
    pub gaps: u64,
    /// Clients that missed at least one.
    pub clients_with_gaps: u64,
    /// Snapshots that arrived out of order or twice.
    pub reordered: u64,
    /// Market messages restating the `seq` a client held (the keyframe
    /// after a subscription change).
    pub restated: u64,
    /// Messages that did not parse.
    pub invalid_msgs: u64,
    /// Window snapshots without a kernel timestamp.
    pub missing_kernel_ts: u64,
    /// Server pings answered.
    pub pongs_sent: u64,
    /// `subscribed` answers received (`--subscribe`), whole run.
    pub subscribed: u64,
    /// `error` messages received, whole run.
    pub server_errors: u64,
    /// The server's counters over the window (`--scrape-metrics`).
    pub encodes: Option<Encodes>,
    /// Load generator CPU seconds during the window (to spot saturation).
    pub loadgen_cpu_s: f64,
    /// Server resource use (`--server-pid`).
    pub server: Option<ServerUse>,
    /// First connect failure, if any.
    pub first_connect_error: Option<String>,
    /// First disconnect reason, if any.
    pub first_disconnect: Option<String>,
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn latency_line(name: &str, l: &Latency) -> String {
    format!(
        "  {name:<22} p50 {} | p90 {} | p99 {} | p99.9 {} | max {} ms  (n={})\n",
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.p999),
        ms(l.max),
        l.count
    )
}

impl Report {
    /// The JSON line.
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The human summary (several lines).
    pub fn human(&self) -> String {
        let mut s = format!(
            "marketfeed-loadgen {}\n  clients {}/{} connected (+{} stalled), {} connect failures, {} disconnects, ramp {:.1} s\n",
            self.label, self.connected, self.clients, self.stalled, self.connect_failures, self.disconnects, self.ramp_s
        );
        s += &format!(
            "  window {:.1} s, tick {} ms: {} snapshots of {} B ({} B on the wire{}), {:.0} msg/s, gaps {} ({} clients), reordered {}, restated {}, invalid {}\n",
            self.duration_s,
            self.tick_interval_ms.map_or("?".to_owned(), |t| t.to_string()),
            self.messages,
            self.mean_msg_bytes,
            self.mean_wire_bytes,
            if self.deflate { ", deflated" } else { "" },
            self.msgs_per_s,
            self.gaps,
            self.clients_with_gaps,
            self.reordered,
            self.restated,
            self.invalid_msgs
        );
        s += &format!(
            "  format {}: {} binary messages, wire {} B = {:.0} B per client-second\n",
            self.subprotocol.as_deref().unwrap_or("(none: v1.json)"),
            self.binary_messages,
            self.wire_bytes,
            self.wire_bytes_per_client_s
        );
        if self.subscribed > 0 || self.server_errors > 0 {
            s += &format!(
                "  {} subscribed answers, {} error messages\n",
                self.subscribed, self.server_errors
            );
        }
        if let Some(e) = &self.encodes {
            s += &format!(
                "  server encodes {:.0} over {:.0} ticks = {:.2} per tick\n",
                e.encodes, e.ticks, e.per_tick
            );
        }
        s += &latency_line("latency (kernel rx)", &self.latency_kernel_us);
        s += &latency_line("latency (user rx)", &self.latency_user_us);
        s += &latency_line("fan-out last−ts/tick", &self.fanout_last_us);
        s += &latency_line("fan-out spread/tick", &self.fanout_spread_us);
        if let Some(u) = &self.server {
            s += &format!(
                "  server RSS {} → {} → {} KiB ({:.2} KiB/client), CPU {:.2} s = {:.4} s per 1k msgs ({:.2} µs/msg)\n",
                u.rss_before_kib, u.rss_connected_kib, u.rss_end_kib, u.rss_per_client_kib, u.cpu_s, u.cpu_s_per_1k_msgs, u.cpu_us_per_msg
            );
        }
        s += &format!(
            "  load generator CPU {:.2} s in the window\n",
            self.loadgen_cpu_s
        );
        if let Some(e) = &self.first_connect_error {
            s += &format!("  first connect failure: {e}\n");
        }
        if let Some(e) = &self.first_disconnect {
            s += &format!("  first disconnect: {e}\n");
        }
        s
    }
}
