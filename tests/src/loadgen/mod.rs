//! The WebSocket load generator.
//!
//! One current-thread runtime drives every client: each client is a small
//! task on a raw `TcpStream` that parses frames itself and reads with
//! `recvmsg`, so every read carries the kernel's receive timestamp
//! (`SO_TIMESTAMPNS`). Latency is reported twice — by kernel receive time
//! (what the server achieved) and by user-space receive time (what this
//! process, possibly saturated, observed).
//!
//! A run: raise `RLIMIT_NOFILE`, ramp the clients in at `--ramp-rate`, wait
//! until every client connected or failed, warm up, then time a window of
//! `--duration` and report.
//!
//! `--subprotocol NAME[,NAME…]` offers a wire format (`marketfeed.v2.bin`,
//! …; several are dealt out round-robin); the report then counts binary
//! messages and the wire bytes per client and second, frame headers
//! included. `--subscribe` deals out subscription sets the same way, and
//! `--scrape-metrics` reports the server's encodes per tick over the
//! window.
//!
//! Modules: [`config`] (CLI), [`target`] (URL), [`handshake`], [`frame`],
//! [`scan`] (`seq`/`ts` extraction), [`conn`] (per-connection state),
//! [`deflate`] (`--deflate`: the offer and inflating compressed messages),
//! [`recv`] (timestamped reads), [`client`] (the task), [`stats`],
//! [`procfs`], [`scrape`] (the server's counters), [`limits`], [`report`].

pub mod client;
pub mod config;
pub mod conn;
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod limits;
pub mod procfs;
pub mod recv;
pub mod report;
pub mod scan;
pub mod scrape;
pub mod stats;
pub mod target;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub use config::Config;
pub use report::Report;

use marketfeed_protocol::{encode_client, ClientMessage};
use procfs::ProcSample;
use report::{Latency, ServerUse};
use stats::Stats;

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadgenError {
    /// The URL is unusable.
    #[error(transparent)]
    Target(#[from] target::TargetError),
    /// The runtime could not be built.
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    /// The server pid was given but cannot be read.
    #[error(transparent)]
    Proc(#[from] procfs::ProcError),
}

/// How often the ramp checks whether every client settled.
const SETTLE_POLL: Duration = Duration::from_millis(20);

/// Runs the load described by `config` to completion.
pub fn run(config: &Config) -> Result<Report, LoadgenError> {
    // Best effort: a low limit shows up as connect failures in the report.
    let _ = limits::raise_nofile();
    let target = target::parse(&config.url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(LoadgenError::Runtime)?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, drive(config, target))
}

fn sample(pid: Option<u32>) -> Result<Option<ProcSample>, LoadgenError> {
    pid.map(procfs::sample).transpose().map_err(Into::into)
}

async fn drive(config: &Config, target: target::Target) -> Result<Report, LoadgenError> {
    let stats = Rc::new(RefCell::new(Stats::default()));
    let before = sample(config.server_pid)?;
    let host: Rc<str> = target.host.into();
    let path: Rc<str> = target.path.into();
    let subprotocols: Vec<Rc<str>> = config
        .subprotocol
        .iter()
        .map(|s| s.as_str().into())
        .collect();
    let subscriptions: Vec<Rc<[u8]>> = config
        .subscription_sets()
        .into_iter()
        .map(|symbols| encode_client(&ClientMessage::Subscribe { symbols }).into())
        .collect();
    let ramp_start = Instant::now();
    let rate = config.ramp_rate.max(1.0);
    for i in 0..config.clients {
        let due = ramp_start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let plan = client::Plan {
            index: i,
            server: target.addr,
            host: host.clone(),
            path: path.clone(),
            source: config.source_of(i),
            stalled: config.is_stalled(i),
            connect_timeout: config.connect_timeout,
            max_payload: config.max_frame,
            subprotocol: round_robin(&subprotocols, i),
            deflate: config.deflate,
            subscribe: round_robin(&subscriptions, i),
        };
        tokio::task::spawn_local(client::run(plan, stats.clone()));
    }
    let settled = |s: &Stats| s.connected + s.connected_stalled + s.connect_failures;
    while settled(&stats.borrow()) < config.clients {
        tokio::time::sleep(SETTLE_POLL).await;
    }
    let ramp_s = ramp_start.elapsed().as_secs_f64();
    tokio::time::sleep(config.warmup).await;

    let counters_start = scrape_if(config, &target.addr, &host).await;
    let connected = sample(config.server_pid)?;
    let own_start = procfs::sample(std::process::id()).ok();
    stats.borrow_mut().measuring = true;
    let window_start = Instant::now();
    tokio::time::sleep(config.duration).await;
    stats.borrow_mut().measuring = false;
    let duration_s = window_start.elapsed().as_secs_f64();
    let end = sample(config.server_pid)?;
    let counters_end = scrape_if(config, &target.addr, &host).await;
    let own_end = procfs::sample(std::process::id()).ok();

    let s = stats.borrow();
    let server = match (before, connected, end) {
        (Some(b), Some(c), Some(e)) => Some(server_use(
            b,
            c,
            e,
            s.connected + s.connected_stalled,
            s.window_msgs,
        )),
        _ => None,
    };
    let (fanout_last_us, fanout_spread_us) = fanout(&s);
    Ok(Report {
        label: config.label.clone(),
        clients: config.clients,
        connected: s.connected,
        stalled: s.connected_stalled,
        connect_failures: s.connect_failures,
        disconnects: s.disconnects,
        ramp_s: round3(ramp_s),
        duration_s: round3(duration_s),
        tick_interval_ms: s.tick_interval_ms,
        messages: s.window_msgs,
        messages_total: s.total_msgs,
        mean_msg_bytes: s.window_bytes.checked_div(s.window_msgs).unwrap_or(0),
        subprotocol: config.subprotocols_label(),
        binary_messages: s.window_binary_msgs,
        wire_bytes: s.window_wire_bytes,
        wire_bytes_per_client_s: per_client_second(
            s.window_wire_bytes,
            s.connected.saturating_sub(s.disconnects),
            duration_s,
        ),
        deflate: config.deflate,
        mean_wire_bytes: s
            .window_snapshot_wire_bytes
            .checked_div(s.window_msgs)
            .unwrap_or(0),
        compressed_msgs: s.compressed_msgs,
        msgs_per_s: (s.window_msgs as f64 / duration_s).round(),
        latency_kernel_us: Latency::of(&s.kernel),
        latency_user_us: Latency::of(&s.user),
        fanout_last_us,
        fanout_spread_us,
        gaps: s.gaps,
        clients_with_gaps: s.clients_with_gaps,
        reordered: s.reordered,
        restated: s.restated,
        invalid_msgs: s.invalid_msgs,
        missing_kernel_ts: s.missing_kernel_ts,
        pongs_sent: s.pongs_sent,
        subscribed: s.subscribed,
        server_errors: s.server_errors,
        encodes: counters_start.zip(counters_end).map(|(a, b)| a.until(b)),
        loadgen_cpu_s: match (own_start, own_end) {
            (Some(a), Some(b)) => round3(b.cpu_s - a.cpu_s),
            _ => 0.0,
        },
        server,
        first_connect_error: s.first_connect_error.clone(),
        first_disconnect: s.first_disconnect.clone(),
    })
}

/// Client `i`'s share of `items` (dealt out in turn); `None` when empty.
fn round_robin<T: Clone>(items: &[T], i: u64) -> Option<T> {
    let n = u64::try_from(items.len()).ok().filter(|n| *n > 0)?;
    items.get(usize::try_from(i % n).ok()?).cloned()
}

/// The server's counters, with `--scrape-metrics`.
async fn scrape_if(
    config: &Config,
    addr: &std::net::SocketAddr,
    host: &str,
) -> Option<scrape::Counters> {
    if config.scrape_metrics {
        scrape::read(*addr, host).await
    } else {
        None
    }
}

/// Bytes per client-second (what one client's link carries).
fn per_client_second(bytes: u64, clients: u64, secs: f64) -> f64 {
    if clients == 0 || secs <= 0.0 {
        return 0.0;
    }
    (bytes as f64 / clients as f64 / secs).round()
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn server_use(
    before: ProcSample,
    connected: ProcSample,
    end: ProcSample,
    clients: u64,
    msgs: u64,
) -> ServerUse {
    let cpu_s = end.cpu_s - connected.cpu_s;
    let per_msg = if msgs == 0 { 0.0 } else { cpu_s / msgs as f64 };
    ServerUse {
        rss_before_kib: before.rss_kib,
        rss_connected_kib: connected.rss_kib,
        rss_end_kib: end.rss_kib,
        rss_per_client_kib: if clients == 0 {
            0.0
        } else {
            round3(connected.rss_kib.saturating_sub(before.rss_kib) as f64 / clients as f64)
        },
        cpu_s: round3(cpu_s),
        cpu_s_per_1k_msgs: (per_msg * 1000.0 * 1e6).round() / 1e6,
        cpu_us_per_msg: (per_msg * 1e6 * 100.0).round() / 100.0,
    }
}

/// Per-tick fan-out over the ticks every live healthy client received
/// inside the window.
fn fanout(s: &Stats) -> (Latency, Latency) {
    let live = s.connected.saturating_sub(s.disconnects);
    let mut last = stats_histogram();
    let mut spread = stats_histogram();
    for t in s.ticks.values().filter(|t| live > 0 && t.count >= live) {
        last.saturating_record((t.last_ns / 1000).saturating_sub(t.ts));
        spread.saturating_record((t.last_ns - t.first_ns) / 1000);
    }
    (Latency::of(&last), Latency::of(&spread))
}

fn stats_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3)
        .expect("constant bounds 1..60 s with 3 significant digits are valid")
}
