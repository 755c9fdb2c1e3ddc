//! Server settings: command-line flags with `MARKETFEED_*` environment
//! fallbacks, and `--config PATH` (a TOML file keyed by the flags' long
//! names, read by `ops::config_file`). Every default lives in
//! [`defaults`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::admission::auth::{KeyError, Secret};
use crate::admission::proxy::Cidr;
use crate::fanout::SlowClientPolicy;
use crate::feed::replay::ReplaySpeed;
use crate::feed::schedule::Schedule;
use crate::feed::{BusTarget, FeedSpec};

/// Every default setting, in one place.
pub mod defaults {
    use std::time::Duration;

    /// Listen address.
    pub const BIND: &str = "127.0.0.1:8080";
    /// Interval between snapshots.
    pub const TICK_INTERVAL: Duration = Duration::from_secs(1);
    /// Interval between WebSocket pings.
    pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
    /// Extra silence tolerated after a heartbeat interval before closing.
    pub const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
    /// Frames queued per client before the slow-client policy applies.
    pub const CLIENT_QUEUE: usize = 50;
    /// Largest client message accepted, in bytes.
    pub const MAX_MESSAGE_SIZE: usize = 4096;
    /// v2 formats: a keyframe instead of a delta every this many ticks
    /// (one minute at the default 1 s tick). Clients that join, resync,
    /// subscribe or fall behind get a keyframe at once anyway, so this is
    /// only the bound on how long a client could hold a wrong state
    /// unnoticed; its cost is small: a 30-quote binary keyframe is about
    /// 2.4 KB against a typical 0.5 KB delta, +7 % of v2.bin's bytes at 60.
    pub const KEYFRAME_INTERVAL: u64 = 60;
    /// Most symbols one connection may subscribe to: the whole VN30 basket
    /// plus a large watchlist, while bounding what one subscription costs
    /// the server per tick.
    pub const MAX_SYMBOLS_PER_CLIENT: usize = 100;
    /// How long shutdown waits for clients to acknowledge the close.
    pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);
    /// How long a new TCP connection may take to send its request head.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// Largest HTTP request head (request line and headers), bytes; a
    /// larger one is answered 431. A browser's upgrade request with a
    /// token is well under 4 KiB; 16 KiB leaves room for long cookies.
    pub const MAX_REQUEST_HEAD: usize = 16 * 1024;
    /// TCP connections accepted but not (yet) upgraded to WebSocket at
    /// once; beyond it a new connection is closed at once. Bounds what a
    /// slowloris can hold within `--request-timeout`: with
    /// `MAX_CONNECTIONS` it stays below the 65,536 descriptors service
    /// managers usually grant. Equal to the listen backlog.
    pub const MAX_PENDING_HANDSHAKES: usize = 4096;
    /// Connections the kernel queues before `accept` (capped by
    /// `net.core.somaxconn`). std's 128 overflows when thousands of
    /// browsers reconnect at once while a tick is being fanned out. Half of
    /// it is what the 1001's reconnect spread lets arrive at once.
    pub const LISTEN_BACKLOG: u32 = 4096;
    /// Seed of the market simulator.
    pub const SEED: u64 = 30;
    /// Directory served at `/` when `--www-dir` is not given and it exists.
    pub const WWW_DIR: &str = "www";
    /// WebSocket clients connected at once, all addresses together. Above
    /// the 15,000 of the benchmark, below what one process's default
    /// descriptor limit (raised to 65,536 by most service managers) allows.
    pub const MAX_CONNECTIONS: usize = 20_000;
    /// WebSocket clients connected at once from one IP address. Loopback
    /// peers are exempt unless `--limit-loopback` is given: on loopback the
    /// peer is the host itself — a local reverse proxy carrying every
    /// client, or a benchmark.
    pub const MAX_CONNECTIONS_PER_IP: usize = 1000;
    /// Sustained client messages per second per connection. The web client
    /// sends one keep-alive every few seconds; an app doing
    /// subscribe/unsubscribe bursts stays well under this.
    pub const CLIENT_MSG_RATE: u32 = 10;
    /// Client messages allowed in a burst above the sustained rate.
    pub const CLIENT_MSG_BURST: u32 = 40;
    /// `Retry-After` sent with 503 and 429 answers, seconds.
    pub const RETRY_AFTER_SECS: u64 = 5;
    /// How long `/readyz` answers 503 (and new upgrades are refused) before
    /// shutdown closes the connections.
    pub const DRAIN_DELAY: Duration = Duration::ZERO;
    /// Longest tick or heartbeat setting. Browsers fire a timer of 2^31 ms
    /// (about 24.8 days) or more at once, and the web client schedules its
    /// timers from the announced intervals plus its own grace: 24 h leaves
    /// ample room.
    pub const MAX_TIMER: Duration = Duration::from_secs(24 * 3600);
    /// Lifetime of a token minted by the `token` subcommand.
    pub const TOKEN_TTL: Duration = Duration::from_secs(3600);
    /// Environment variable holding the token secret (never a flag: flags
    /// show up in `ps`).
    pub const AUTH_SECRET_ENV: &str = "MARKETFEED_AUTH_SECRET";
    /// What to drop for a client that cannot keep up.
    pub const SLOW_CLIENT_POLICY: SlowClientPolicy = SlowClientPolicy::Conflate;
    /// SO_SNDBUF per client socket; 0 keeps the system default.
    pub const SEND_BUFFER: usize = 0;
    /// TCP_NOTSENT_LOWAT per client socket: the kernel takes a write only
    /// while less than this much is unsent, so a stalled client's send
    /// queue stays near it (plus one segment) and the outbox's
    /// slow-client policy decides the rest. 32 KiB is about 2.5 VN30
    /// snapshots (12.9 KB each); it does not limit data in flight, so a
    /// healthy client's throughput is not bounded by it.
    pub const SEND_LOWAT: u32 = 32 * 1024;
    /// Runtime worker threads; 0 means one per core.
    pub const WORKERS: usize = 0;
    /// Log line format.
    pub const LOG_FORMAT: LogFormat = LogFormat::Text;
    /// permessage-deflate offered to clients that ask (`--compression`).
    pub const COMPRESSION: Compression = Compression::On;
    /// Where snapshots come from (`--feed`).
    pub const FEED: &str = "simulator";
    /// Replay speed factor (`--replay-speed`).
    pub const REPLAY_SPEED: &str = "1";
    /// A live feed silent this long during a trading phase is stale.
    pub const FEED_STALE_AFTER: Duration = Duration::from_secs(10);
    /// The simulator's trading schedule (`--sim-schedule`).
    pub const SIM_SCHEDULE: &str = "continuous";
    /// The NATS subject a publisher's ticks travel on (`publish --subject`,
    /// and an edge's `--feed nats://HOST:PORT` without a subject).
    pub const NATS_SUBJECT: &str = crate::feed::DEFAULT_SUBJECT;

    use super::{Compression, LogFormat, SlowClientPolicy};
}

/// `d` as humantime writes it (`1s`, `1h`), for clap's `default_value`:
/// the text is computed from the constant, never written beside it. Each
/// distinct duration is formatted once and kept for the process's life.
fn shown(d: Duration) -> &'static str {
    static SHOWN: Mutex<Vec<(Duration, &'static str)>> = Mutex::new(Vec::new());
    let mut shown = SHOWN.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, text)) = shown.iter().find(|(k, _)| *k == d) {
        return text;
    }
    let text: &'static str = Box::leak(humantime::format_duration(d).to_string().into_boxed_str());
    shown.push((d, text));
    text
}

/// Why the configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The secret file could not be read.
    #[error("cannot read the auth secret file {}: {source}", path.display())]
    SecretFile {
        /// The path given.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The secret cannot be used (too short for HS256).
    #[error(transparent)]
    Secret(#[from] KeyError),
    /// `token` was asked for without any secret.
    #[error("no auth secret: give --auth-secret-file or set MARKETFEED_AUTH_SECRET")]
    NoSecret,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Whether permessage-deflate may be negotiated (`--compression`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Compression {
    /// Accept a client's permessage-deflate offer (when its terms can be
    /// honoured): snapshots are deflated once per tick for all such clients.
    On,
    /// Never negotiate it: every client gets plain frames.
    Off,
}

/// The command line: serve (the default) or mint a token.
#[derive(Debug, Parser)]
#[command(
    name = "marketfeed-server",
    version,
    about = "Broadcast VN30 market snapshots over WebSocket",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// What to do instead of serving.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Server settings.
    #[command(flatten)]
    pub config: Config,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a signed token (HS256 JWT) for a client, using the server's secret.
    Token(TokenArgs),
    /// Work with a `--config` file.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Run the feed as the sequencer of a set of edges: stamp every tick
    /// and publish it once to NATS (and serve it like a single node too).
    Publish(Box<PublishArgs>),
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate a TOML config file and print the effective configuration
    /// (file over environment over defaults; secrets redacted).
    Check {
        /// The file (keys are the flags' long names: `max-connections = 5000`).
        path: PathBuf,
    },
}

/// Settings of the `publish` subcommand: where to publish, then every
/// server setting (`--feed`, `--tick-interval`, `--bind`, …).
#[derive(Debug, Clone, clap::Args)]
pub struct PublishArgs {
    /// NATS server to publish to, e.g. `nats://127.0.0.1:4222`.
    #[arg(long, env = "MARKETFEED_NATS", value_parser = parse_nats_url)]
    pub nats: String,
    /// Subject the ticks are published on (edges name it in `--feed nats://HOST:PORT/SUBJECT`).
    #[arg(long, env = "MARKETFEED_NATS_SUBJECT", default_value = defaults::NATS_SUBJECT)]
    pub subject: String,
    /// Server settings.
    #[command(flatten)]
    pub config: Config,
}

impl PublishArgs {
    /// The server configuration with its publishing target set.
    pub fn into_config(self) -> Result<Config, String> {
        let mut config = self.config;
        if matches!(config.feed, FeedSpec::Nats(_)) {
            return Err("a publisher needs its own feed, not --feed nats://".into());
        }
        config.publish = Some(BusTarget::new(self.nats, self.subject)?);
        Ok(config)
    }
}

fn parse_nats_url(s: &str) -> Result<String, String> {
    BusTarget::parse_feed(s).map(|t| t.url)
}

/// Settings of the `token` subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenArgs {
    /// Subject (`sub`) of the token, recorded in the connection's log lines.
    #[arg(long)]
    pub subject: String,
    /// Lifetime of the token (e.g. `1h`, `15m`).
    #[arg(long, default_value = shown(defaults::TOKEN_TTL), value_parser = parse_positive_duration)]
    pub ttl: Duration,
    /// File holding the token secret (same as the server's).
    #[arg(long, env = "MARKETFEED_AUTH_SECRET_FILE")]
    pub auth_secret_file: Option<PathBuf>,
}

/// Reads the secret from `file` when given, else from
/// `MARKETFEED_AUTH_SECRET`; `None` when neither is set.
pub fn load_secret(file: Option<&std::path::Path>) -> Result<Option<Secret>, ConfigError> {
    let raw = match file {
        Some(path) => std::fs::read(path).map_err(|source| ConfigError::SecretFile {
            path: path.to_path_buf(),
            source,
        })?,
        None => match std::env::var_os(defaults::AUTH_SECRET_ENV) {
            Some(v) if !v.is_empty() => v.into_encoded_bytes(),
            _ => return Ok(None),
        },
    };
    Ok(Some(Secret::new(raw)?))
}

/// Settings of one server instance.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "marketfeed-server",
    version,
    about = "Broadcast VN30 market snapshots over WebSocket"
)]
pub struct Config {
    /// Token secret, read from `--auth-secret-file` or
    /// `MARKETFEED_AUTH_SECRET` by [`Config::load_secret`]; `None` turns
    /// authentication off.
    #[arg(skip)]
    pub auth_secret: Option<Secret>,

    /// TOML file of settings, keyed by the flags' long names (`max-connections = 5000`);
    /// flags and environment override it. Check one with `marketfeed-server config check PATH`.
    #[arg(long = "config", env = "MARKETFEED_CONFIG", value_name = "PATH")]
    pub config_file: Option<PathBuf>,

    /// Where every stamped tick is also published (set by the `publish`
    /// subcommand); `None` on a single node and on an edge.
    #[arg(skip)]
    pub publish: Option<BusTarget>,

    /// Address to listen on.
    #[arg(long, env = "MARKETFEED_BIND", default_value = defaults::BIND)]
    pub bind: SocketAddr,

    /// Interval between snapshots (e.g. `1s`, `100ms`).
    #[arg(long, env = "MARKETFEED_TICK_INTERVAL", default_value = shown(defaults::TICK_INTERVAL), value_parser = parse_timer)]
    pub tick_interval: Duration,

    /// Interval between WebSocket Ping frames sent to every client.
    #[arg(long, env = "MARKETFEED_HEARTBEAT_INTERVAL", default_value = shown(defaults::HEARTBEAT_INTERVAL), value_parser = parse_timer)]
    pub heartbeat_interval: Duration,

    /// A client silent for heartbeat-interval + heartbeat-timeout is closed (code 4000).
    #[arg(long, env = "MARKETFEED_HEARTBEAT_TIMEOUT", default_value = shown(defaults::HEARTBEAT_TIMEOUT), value_parser = parse_timer)]
    pub heartbeat_timeout: Duration,

    /// Frames queued per client before the slow-client policy drops some.
    #[arg(long, env = "MARKETFEED_CLIENT_QUEUE", default_value_t = defaults::CLIENT_QUEUE, value_parser = parse_queue)]
    pub client_queue: usize,

    /// What to drop for a client that cannot keep up.
    #[arg(long, env = "MARKETFEED_SLOW_CLIENT_POLICY", value_enum, default_value_t = defaults::SLOW_CLIENT_POLICY)]
    pub slow_client_policy: SlowClientPolicy,

    /// Largest client message accepted, in bytes; larger closes with 1009.
    #[arg(long, env = "MARKETFEED_MAX_MESSAGE_SIZE", default_value_t = defaults::MAX_MESSAGE_SIZE, value_parser = parse_message_size)]
    pub max_message_size: usize,

    /// v2 formats: send a keyframe instead of a delta every this many ticks.
    #[arg(long, env = "MARKETFEED_KEYFRAME_INTERVAL", default_value_t = defaults::KEYFRAME_INTERVAL, value_parser = clap::value_parser!(u64).range(1..))]
    pub keyframe_interval: u64,

    /// Most symbols one connection may subscribe to; a larger set is refused (error tooManySymbols).
    #[arg(long, env = "MARKETFEED_MAX_SYMBOLS_PER_CLIENT", default_value_t = defaults::MAX_SYMBOLS_PER_CLIENT, value_parser = parse_queue)]
    pub max_symbols_per_client: usize,

    /// Directory served at `/` (the price board) [default: ./www when it exists].
    #[arg(long, env = "MARKETFEED_WWW_DIR")]
    pub www_dir: Option<PathBuf>,

    /// Seed of the simulated VN30 feed (same seed, same market).
    #[arg(long, env = "MARKETFEED_SEED", default_value_t = defaults::SEED)]
    pub seed: u64,

    /// How long shutdown waits for clients to acknowledge the close frame.
    #[arg(long, env = "MARKETFEED_SHUTDOWN_DRAIN", default_value = shown(defaults::SHUTDOWN_DRAIN), value_parser = humantime::parse_duration)]
    pub shutdown_drain: Duration,

    /// How long a new connection may take to send its HTTP request head.
    #[arg(long, env = "MARKETFEED_REQUEST_TIMEOUT", default_value = shown(defaults::REQUEST_TIMEOUT), value_parser = parse_positive_duration)]
    pub request_timeout: Duration,

    /// Largest HTTP request head in bytes (request line + headers); larger gets 431.
    #[arg(long, env = "MARKETFEED_MAX_REQUEST_HEAD", default_value_t = defaults::MAX_REQUEST_HEAD, value_parser = parse_request_head)]
    pub max_request_head: usize,

    /// TCP connections not yet upgraded to WebSocket at once; beyond it new connections are closed at once.
    #[arg(long, env = "MARKETFEED_MAX_PENDING_HANDSHAKES", default_value_t = defaults::MAX_PENDING_HANDSHAKES, value_parser = parse_queue)]
    pub max_pending_handshakes: usize,

    /// Listen backlog the binary binds with (capped by net.core.somaxconn); half of it is how many clients the shutdown's reconnect spread lets come back at once.
    #[arg(long, env = "MARKETFEED_LISTEN_BACKLOG", default_value_t = defaults::LISTEN_BACKLOG, value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub listen_backlog: u32,

    /// Kernel send buffer per client socket in bytes (SO_SNDBUF); 0 keeps the system default.
    #[arg(long, env = "MARKETFEED_SEND_BUFFER", default_value_t = defaults::SEND_BUFFER)]
    pub send_buffer: usize,

    /// Most unsent bytes the kernel holds per client socket before writes wait (TCP_NOTSENT_LOWAT); 0 keeps the system default (unbounded).
    #[arg(long, env = "MARKETFEED_SEND_LOWAT", default_value_t = defaults::SEND_LOWAT)]
    pub send_lowat: u32,

    /// Runtime worker threads; 0 means one per core.
    #[arg(long, env = "MARKETFEED_WORKERS", default_value_t = defaults::WORKERS)]
    pub workers: usize,

    /// File holding the HS256 token secret (32+ bytes); turns authentication on.
    /// The secret may instead be given in MARKETFEED_AUTH_SECRET.
    #[arg(long, env = "MARKETFEED_AUTH_SECRET_FILE")]
    pub auth_secret_file: Option<PathBuf>,

    /// Browser origin allowed to open the feed (exact, e.g. `https://board.example.com`);
    /// repeatable, env as a comma list. None given: every origin is allowed.
    #[arg(long = "allowed-origin", env = "MARKETFEED_ALLOWED_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub allowed_origins: Vec<String>,

    /// Reverse proxy address range (CIDR, e.g. `127.0.0.1/32` or `10.0.0.0/8`)
    /// whose `X-Forwarded-For`/`Forwarded` header names the client; repeatable,
    /// env as a comma list. None given: the TCP peer is the client.
    #[arg(
        long = "trusted-proxy",
        env = "MARKETFEED_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    pub trusted_proxies: Vec<Cidr>,

    /// WebSocket clients at once; beyond it the handshake gets 503.
    #[arg(long, env = "MARKETFEED_MAX_CONNECTIONS", default_value_t = defaults::MAX_CONNECTIONS, value_parser = parse_queue)]
    pub max_connections: usize,

    /// WebSocket clients at once from one IP; beyond it the handshake gets 429.
    #[arg(long, env = "MARKETFEED_MAX_CONNECTIONS_PER_IP", default_value_t = defaults::MAX_CONNECTIONS_PER_IP, value_parser = parse_queue)]
    pub max_connections_per_ip: usize,

    /// Apply --max-connections-per-ip to loopback peers too (exempt by default).
    #[arg(long, env = "MARKETFEED_LIMIT_LOOPBACK")]
    pub limit_loopback: bool,

    /// Sustained messages per second a client may send; a flood closes with 1008.
    #[arg(long, env = "MARKETFEED_CLIENT_MSG_RATE", default_value_t = defaults::CLIENT_MSG_RATE, value_parser = clap::value_parser!(u32).range(1..))]
    pub client_msg_rate: u32,

    /// Messages a client may send in a burst above the sustained rate.
    #[arg(long, env = "MARKETFEED_CLIENT_MSG_BURST", default_value_t = defaults::CLIENT_MSG_BURST, value_parser = clap::value_parser!(u32).range(1..))]
    pub client_msg_burst: u32,

    /// On shutdown, how long /readyz answers 503 before clients are closed.
    #[arg(long, env = "MARKETFEED_DRAIN_DELAY", default_value = shown(defaults::DRAIN_DELAY), value_parser = humantime::parse_duration)]
    pub drain_delay: Duration,

    /// Where snapshots come from: `simulator`, `stdin` (ingest lines), `replay:PATH` (a recording)
    /// or `nats://HOST:PORT[/SUBJECT]` (an edge: stamped ticks from a publisher).
    #[arg(long, env = "MARKETFEED_FEED", default_value = defaults::FEED, value_parser = parse_feed)]
    pub feed: FeedSpec,

    /// Replay speed: a factor of the recorded spacing (`1`, `10`, `0.5`) or `max`.
    #[arg(long, env = "MARKETFEED_REPLAY_SPEED", default_value = defaults::REPLAY_SPEED, value_parser = parse_speed)]
    pub replay_speed: ReplaySpeed,

    /// Start a replay over when it reaches the end of the file.
    #[arg(long, env = "MARKETFEED_REPLAY_LOOP")]
    pub replay_loop: bool,

    /// Append every published snapshot to this file, one JSON line each (works with any feed).
    #[arg(long, env = "MARKETFEED_RECORD")]
    pub record: Option<PathBuf>,

    /// A live feed (stdin) silent this long during a trading phase is stale (/readyz 503, `stale` in snapshots).
    #[arg(long, env = "MARKETFEED_FEED_STALE_AFTER", default_value = shown(defaults::FEED_STALE_AFTER), value_parser = parse_positive_duration)]
    pub feed_stale_after: Duration,

    /// The simulator's day: `continuous`, `hose` (the real HOSE day, UTC+7) or `hose-compressed:DURATION`.
    #[arg(long, env = "MARKETFEED_SIM_SCHEDULE", default_value = defaults::SIM_SCHEDULE, value_parser = parse_schedule)]
    pub sim_schedule: Schedule,

    /// Log line format.
    #[arg(long, env = "MARKETFEED_LOG_FORMAT", value_enum, default_value_t = defaults::LOG_FORMAT)]
    pub log_format: LogFormat,

    /// permessage-deflate: `on` accepts a client's offer (each snapshot is compressed once per tick for every such client), `off` never negotiates it.
    #[arg(long, env = "MARKETFEED_COMPRESSION", value_enum, default_value_t = defaults::COMPRESSION)]
    pub compression: Compression,
}

impl Config {
    /// The settings with every default, for tests and embedding.
    pub fn with_defaults() -> Self {
        // Parsing an empty command line only fails if a default is invalid,
        // which the `defaults_parse` test rules out.
        Self::try_parse_from(["marketfeed-server"]).expect("defaults parse")
    }

    /// Fills [`Config::auth_secret`] from `--auth-secret-file` or
    /// `MARKETFEED_AUTH_SECRET`.
    pub fn load_secret(&mut self) -> Result<(), ConfigError> {
        self.auth_secret = load_secret(self.auth_secret_file.as_deref())?;
        Ok(())
    }

    /// Time after which a silent client is closed.
    pub fn silence_limit(&self) -> Duration {
        self.heartbeat_interval + self.heartbeat_timeout
    }
}

fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s).map_err(|e| format!("{e} (use e.g. 1s, 250ms)"))?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

/// A positive duration a browser can still schedule (at most
/// [`defaults::MAX_TIMER`]).
fn parse_timer(s: &str) -> Result<Duration, String> {
    let d = parse_positive_duration(s)?;
    if d > defaults::MAX_TIMER {
        return Err("must be at most 24h (browsers cannot schedule longer timers)".into());
    }
    Ok(d)
}

fn parse_feed(s: &str) -> Result<FeedSpec, String> {
    s.parse()
}

fn parse_speed(s: &str) -> Result<ReplaySpeed, String> {
    s.parse()
        .map_err(|e: crate::feed::replay::ReplayError| e.to_string())
}

fn parse_schedule(s: &str) -> Result<Schedule, String> {
    s.parse()
}

fn parse_queue(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_message_size(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n < 64 => Err("must be at least 64 bytes".into()),
        Ok(n) if n > 1 << 20 => Err("must be at most 1048576 bytes".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

fn parse_request_head(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n < 1024 => Err("must be at least 1024 bytes".into()),
        Ok(n) if n > 1 << 20 => Err("must be at most 1048576 bytes".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// `scheme://host[:port]`, lower-cased, without a trailing slash: the
/// form browsers put in the `Origin` header.
fn parse_origin(s: &str) -> Result<String, String> {
    let origin = s.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or("an origin starts with http:// or https://")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '*', ' ']) {
        return Err("an origin is scheme://host[:port], without path or wildcard".into());
    }
    Ok(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        Config::try_parse_from(std::iter::once("marketfeed-server").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_parse() {
        let c = Config::with_defaults();
        assert_eq!(c.bind, defaults::BIND.parse().expect("valid"));
        assert_eq!(c.tick_interval, defaults::TICK_INTERVAL);
        assert_eq!(c.heartbeat_interval, defaults::HEARTBEAT_INTERVAL);
        assert_eq!(c.heartbeat_timeout, defaults::HEARTBEAT_TIMEOUT);
        assert_eq!(c.client_queue, defaults::CLIENT_QUEUE);
        assert_eq!(c.max_message_size, defaults::MAX_MESSAGE_SIZE);
        assert_eq!(c.keyframe_interval, defaults::KEYFRAME_INTERVAL);
        assert_eq!(c.max_symbols_per_client, defaults::MAX_SYMBOLS_PER_CLIENT);
        assert_eq!(c.shutdown_drain, defaults::SHUTDOWN_DRAIN);
        assert_eq!(c.request_timeout, defaults::REQUEST_TIMEOUT);
        assert_eq!(c.max_request_head, defaults::MAX_REQUEST_HEAD);
        assert_eq!(c.max_pending_handshakes, defaults::MAX_PENDING_HANDSHAKES);
        assert_eq!(c.seed, defaults::SEED);
        assert_eq!(c.www_dir, None);
        assert_eq!(c.max_connections, defaults::MAX_CONNECTIONS);
        assert_eq!(c.max_connections_per_ip, defaults::MAX_CONNECTIONS_PER_IP);
        assert_eq!(c.client_msg_rate, defaults::CLIENT_MSG_RATE);
        assert_eq!(c.client_msg_burst, defaults::CLIENT_MSG_BURST);
        assert_eq!(c.drain_delay, defaults::DRAIN_DELAY);
        assert!(c.allowed_origins.is_empty());
        assert!(c.auth_secret.is_none());
        assert!(!c.limit_loopback);
        assert_eq!(c.log_format, LogFormat::Text);
        assert_eq!(c.compression, Compression::On);
        assert_eq!(
            parse(&["--compression", "off"])
                .expect("parses")
                .compression,
            Compression::Off
        );
        assert!(parse(&["--compression", "maybe"]).is_err());
        assert_eq!(c.feed, FeedSpec::Simulator);
        assert_eq!(c.replay_speed, ReplaySpeed::Times(1.0));
        assert!(!c.replay_loop);
        assert_eq!(c.record, None);
        assert_eq!(c.feed_stale_after, defaults::FEED_STALE_AFTER);
        assert_eq!(c.sim_schedule, Schedule::Continuous);
    }

    #[test]
    fn feed_flags_parse() {
        let c = parse(&[
            "--feed",
            "replay:day.jsonl",
            "--replay-speed",
            "max",
            "--replay-loop",
            "--sim-schedule",
            "hose-compressed:3m",
            "--feed-stale-after",
            "300ms",
        ])
        .expect("ok");
        assert_eq!(c.feed, FeedSpec::Replay(PathBuf::from("day.jsonl")));
        assert_eq!(c.replay_speed, ReplaySpeed::Max);
        assert!(c.replay_loop);
        assert_eq!(
            c.sim_schedule,
            Schedule::Compressed(Duration::from_secs(180))
        );
        assert_eq!(c.feed_stale_after, Duration::from_millis(300));
        assert_eq!(
            parse(&["--feed", "stdin"]).expect("ok").feed,
            FeedSpec::Stdin
        );
        assert_eq!(
            parse(&["--sim-schedule", "hose"]).expect("ok").sim_schedule,
            Schedule::Hose
        );
        for bad in [
            ["--feed", "bogus"],
            ["--feed", "replay:"],
            ["--replay-speed", "0"],
            ["--replay-speed", "-1"],
            ["--sim-schedule", "hose-compressed:0s"],
            ["--sim-schedule", "weekly"],
            ["--feed-stale-after", "0s"],
        ] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn duration_defaults_read_as_humantime() {
        assert_eq!(shown(defaults::TICK_INTERVAL), "1s");
        assert_eq!(shown(defaults::TOKEN_TTL), "1h");
        assert_eq!(shown(defaults::DRAIN_DELAY), "0s");
        assert!(std::ptr::eq(
            shown(defaults::HEARTBEAT_INTERVAL),
            shown(defaults::HEARTBEAT_INTERVAL)
        ));
    }

    #[test]
    fn origins_are_normalised() {
        let c = parse(&[
            "--allowed-origin",
            "https://Board.Example.com/",
            "--allowed-origin",
            "http://localhost:8080",
        ])
        .expect("ok");
        assert_eq!(
            c.allowed_origins,
            ["https://board.example.com", "http://localhost:8080"]
        );
        for bad in [
            "board.example.com",
            "https://*.example.com",
            "https://a.com/path",
        ] {
            assert!(parse(&["--allowed-origin", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_subcommand_parses() {
        let cli = Cli::try_parse_from([
            "marketfeed-server",
            "token",
            "--subject",
            "ops",
            "--ttl",
            "15m",
        ])
        .expect("ok");
        match cli.command {
            Some(Command::Token(t)) => {
                assert_eq!(t.subject, "ops");
                assert_eq!(t.ttl, Duration::from_secs(900));
            }
            _ => panic!("not token"),
        }
        let default_ttl =
            Cli::try_parse_from(["marketfeed-server", "token", "--subject", "x"]).expect("ok");
        match default_ttl.command {
            Some(Command::Token(t)) => assert_eq!(t.ttl, defaults::TOKEN_TTL),
            _ => panic!("not token"),
        }
        let serve = Cli::try_parse_from(["marketfeed-server", "--seed", "7"]).expect("ok");
        assert!(serve.command.is_none());
        assert_eq!(serve.config.seed, 7);
    }

    #[test]
    fn publish_and_edge_flags_parse() {
        let cli = Cli::try_parse_from([
            "marketfeed-server",
            "publish",
            "--nats",
            "nats://127.0.0.1:4222",
            "--tick-interval",
            "100ms",
        ])
        .expect("ok");
        let Some(Command::Publish(args)) = cli.command else {
            panic!("no publish subcommand");
        };
        let config = args.into_config().expect("valid");
        assert_eq!(
            config.publish,
            Some(BusTarget {
                url: "nats://127.0.0.1:4222".into(),
                subject: defaults::NATS_SUBJECT.into(),
            })
        );
        assert_eq!(config.tick_interval, Duration::from_millis(100));
        assert_eq!(config.feed, FeedSpec::Simulator);
        let edge = parse(&["--feed", "nats://10.0.0.5:4222/board.vn30"]).expect("ok");
        assert_eq!(
            edge.feed,
            FeedSpec::Nats(BusTarget {
                url: "nats://10.0.0.5:4222".into(),
                subject: "board.vn30".into(),
            })
        );
        assert!(edge.publish.is_none());
        let bare = parse(&["--feed", "nats://127.0.0.1:4222"]).expect("ok");
        assert_eq!(
            bare.feed.to_string(),
            "nats://127.0.0.1:4222/marketfeed.ticks"
        );
        for bad in ["nats://", "nats:///x", "nats://h:1/a.*", "nats://h:1/a..b"] {
            assert!(parse(&["--feed", bad]).is_err(), "{bad}");
        }
        let own_feed = Cli::try_parse_from([
            "marketfeed-server",
            "publish",
            "--nats",
            "nats://127.0.0.1:4222",
            "--feed",
            "nats://127.0.0.1:4222",
        ])
        .expect("parses");
        let Some(Command::Publish(args)) = own_feed.command else {
            panic!("no publish subcommand");
        };
        assert!(args.into_config().is_err());
    }

    #[test]
    fn humantime_values() {
        let c = parse(&["--tick-interval", "100ms", "--heartbeat-interval", "2s"]).expect("ok");
        assert_eq!(c.tick_interval, Duration::from_millis(100));
        assert_eq!(c.silence_limit(), Duration::from_secs(12));
    }

    #[test]
    fn timers_up_to_a_day_are_accepted() {
        let c = parse(&[
            "--heartbeat-interval",
            "24h",
            "--heartbeat-timeout",
            "24h",
            "--tick-interval",
            "24h",
        ])
        .expect("ok");
        assert_eq!(c.heartbeat_interval, defaults::MAX_TIMER);
    }

    #[test]
    fn bad_values_are_rejected() {
        for args in [
            &["--tick-interval", "0s"][..],
            &["--tick-interval", "soon"],
            &["--heartbeat-timeout", "0ms"],
            &["--client-queue", "0"],
            &["--client-queue", "-3"],
            &["--bind", "localhost"],
            &["--max-message-size", "10"],
            &["--slow-client-policy", "ignore"],
            &["--max-connections", "0"],
            &["--client-msg-rate", "0"],
            &["--log-format", "xml"],
            &["--heartbeat-interval", "25days"],
            &["--heartbeat-timeout", "24h 1s"],
            &["--tick-interval", "2147483648ms"],
            &["--max-request-head", "100"],
            &["--max-request-head", "2000000"],
            &["--max-pending-handshakes", "0"],
        ] {
            assert!(parse(args).is_err(), "{args:?} should be rejected");
        }
    }
}
