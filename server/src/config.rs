//! Server settings: command-line flags with `MARKETFEED_*` environment
//! fallbacks. Every default lives in [`defaults`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

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
    /// How long shutdown waits for clients to acknowledge the close.
    pub const SHUTDOWN_DRAIN: Duration = Duration::from_secs(5);
    /// How long a new TCP connection may take to send its request head.
    pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
    /// Seed of the market simulator.
    pub const SEED: u64 = 30;
    /// Directory served at `/` when `--www-dir` is not given and it exists.
    pub const WWW_DIR: &str = "www";
}

/// What to do with a client whose queue is full or that has fallen behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SlowClientPolicy {
    /// Keep at most one unsent snapshot per client: a newer snapshot
    /// replaces an older one still waiting (snapshots carry full state, so
    /// the newest is all a lagging client needs). Each replaced one counts
    /// as a drop.
    Conflate,
    /// Queue up to `--client-queue` frames and drop the oldest queued
    /// snapshot when full.
    DropOldest,
}

/// Settings of one server instance.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "marketfeed-server",
    version,
    about = "Broadcast VN30 market snapshots over WebSocket"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "MARKETFEED_BIND", default_value = defaults::BIND)]
    pub bind: SocketAddr,

    /// Interval between snapshots (e.g. `1s`, `100ms`).
    #[arg(long, env = "MARKETFEED_TICK_INTERVAL", default_value = "1s", value_parser = parse_positive_duration)]
    pub tick_interval: Duration,

    /// Interval between WebSocket Ping frames sent to every client.
    #[arg(long, env = "MARKETFEED_HEARTBEAT_INTERVAL", default_value = "30s", value_parser = parse_positive_duration)]
    pub heartbeat_interval: Duration,

    /// A client silent for heartbeat-interval + heartbeat-timeout is closed (code 4000).
    #[arg(long, env = "MARKETFEED_HEARTBEAT_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub heartbeat_timeout: Duration,

    /// Frames queued per client before the slow-client policy drops some.
    #[arg(long, env = "MARKETFEED_CLIENT_QUEUE", default_value_t = defaults::CLIENT_QUEUE, value_parser = parse_queue)]
    pub client_queue: usize,

    /// What to drop for a client that cannot keep up.
    #[arg(long, env = "MARKETFEED_SLOW_CLIENT_POLICY", value_enum, default_value_t = SlowClientPolicy::Conflate)]
    pub slow_client_policy: SlowClientPolicy,

    /// Largest client message accepted, in bytes; larger closes with 1009.
    #[arg(long, env = "MARKETFEED_MAX_MESSAGE_SIZE", default_value_t = defaults::MAX_MESSAGE_SIZE, value_parser = parse_message_size)]
    pub max_message_size: usize,

    /// Directory served at `/` (the price board) [default: ./www when it exists].
    #[arg(long, env = "MARKETFEED_WWW_DIR")]
    pub www_dir: Option<PathBuf>,

    /// Seed of the simulated VN30 feed (same seed, same market).
    #[arg(long, env = "MARKETFEED_SEED", default_value_t = defaults::SEED)]
    pub seed: u64,

    /// How long shutdown waits for clients to acknowledge the close frame.
    #[arg(long, env = "MARKETFEED_SHUTDOWN_DRAIN", default_value = "5s", value_parser = humantime::parse_duration)]
    pub shutdown_drain: Duration,

    /// How long a new connection may take to send its HTTP request head.
    #[arg(long, env = "MARKETFEED_REQUEST_TIMEOUT", default_value = "10s", value_parser = parse_positive_duration)]
    pub request_timeout: Duration,

    /// Kernel send buffer per client socket in bytes (SO_SNDBUF); 0 keeps the system default.
    #[arg(long, env = "MARKETFEED_SEND_BUFFER", default_value_t = 0)]
    pub send_buffer: usize,

    /// Runtime worker threads; 0 means one per core.
    #[arg(long, env = "MARKETFEED_WORKERS", default_value_t = 0)]
    pub workers: usize,
}

impl Config {
    /// The settings with every default, for tests and embedding.
    pub fn with_defaults() -> Self {
        // Parsing an empty command line only fails if a default is invalid,
        // which the `defaults_parse` test rules out.
        Self::try_parse_from(["marketfeed-server"]).expect("defaults parse")
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
        assert_eq!(c.shutdown_drain, defaults::SHUTDOWN_DRAIN);
        assert_eq!(c.request_timeout, defaults::REQUEST_TIMEOUT);
        assert_eq!(c.seed, defaults::SEED);
        assert_eq!(c.www_dir, None);
    }

    #[test]
    fn humantime_values() {
        let c = parse(&["--tick-interval", "100ms", "--heartbeat-interval", "2s"]).expect("ok");
        assert_eq!(c.tick_interval, Duration::from_millis(100));
        assert_eq!(c.silence_limit(), Duration::from_secs(12));
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
        ] {
            assert!(parse(args).is_err(), "{args:?} should be rejected");
        }
    }
}
