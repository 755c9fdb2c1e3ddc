//! Where snapshots come from.
//!
//! A [`SnapshotSource`] produces the whole market state once per tick; the
//! ticker stamps `seq` and `ts` (and `stale`) and hands it to the hub,
//! which has it serialized once (`fanout::encoder`) when clients are
//! connected. `--feed` chooses the source ([`FeedSpec`]):
//!
//! * `simulator` (the default): the [`Simulator`], a seeded random walk of
//!   the real VN30 basket inside each stock's HOSE price band
//!   ([`tick_size`]), built from the static tables in [`vn30`], trading on
//!   a [`schedule::Schedule`] (`--sim-schedule`).
//! * `stdin`: ingest lines from the operator's process, read by a task into
//!   an [`ingest::LiveMarket`] that the ticker samples ([`source::StdinFeed`]).
//! * `replay:PATH`: a file that `--record` wrote ([`replay`],
//!   [`source::ReplayFeed`]).
//! * `nats://HOST:PORT[/SUBJECT]`: an edge — no source here at all; the
//!   ticks arrive already stamped from a publisher through NATS and are
//!   fanned out as they come (the server's `cluster` module).

pub mod ingest;
pub mod market;
pub mod replay;
pub mod schedule;
pub mod simulator;
pub mod source;
pub mod tick_size;
pub mod vn30;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use marketfeed_protocol::MarketSnapshot;

pub use simulator::Simulator;

/// Every `reason` label of `marketfeed_feed_rejected_total`: the ingest
/// decoder's (`IngestError::label`), the market state's
/// (`market::Rejected::label`) and a replay's unreadable lines.
pub const REJECT_REASONS: &[&str] = &[
    "too_long",
    "not_json",
    "unknown_type",
    "unknown_field",
    "wrong_type",
    "no_universe",
    "bad_universe",
    "unknown_symbol",
    "bad_price",
    "out_of_band",
    "volume_decreased",
    "bad_line",
];

/// A producer of market state, polled once per tick by the ticker.
pub trait SnapshotSource: Send + 'static {
    /// Symbols quoted, in the order of `MarketSnapshot::quotes` (empty
    /// while a live feed has not declared its universe).
    fn symbols(&self) -> Vec<String>;
    /// The state to publish this tick; `seq` and `ts` are left 0 — the
    /// ticker stamps them. `None` when there is nothing to publish yet (a
    /// live feed before its first `snapshot` line): the tick is skipped
    /// without using a `seq`.
    fn next_snapshot(&mut self) -> Option<MarketSnapshot>;
    /// How long until the next tick, given the configured `tick`; zero
    /// means at once (a replay at `max`).
    fn next_interval(&self, tick: Duration) -> Duration {
        tick
    }
    /// How the input is doing.
    fn report(&self) -> FeedReport {
        FeedReport::default()
    }
}

/// How a source's input is doing, for readiness, metrics and staleness.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedReport {
    /// The source follows an outside input that can fall silent (stdin);
    /// only a live source can be stale.
    pub live: bool,
    /// Lines read (good and bad).
    pub lines: u64,
    /// Lines applied.
    pub applied: u64,
    /// Lines refused, by reason label (see [`REJECT_REASONS`]).
    pub rejected: BTreeMap<&'static str, u64>,
    /// Time since the state last changed; `None` before the first update
    /// (and for a source that updates every tick by itself).
    pub since_last_update: Option<Duration>,
    /// The input ended (stdin closed, replay played out without loop): the
    /// last state is served from now on.
    pub ended: bool,
}

/// Which source `--feed` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSpec {
    /// The embedded VN30 simulator.
    Simulator,
    /// Ingest lines on standard input.
    Stdin,
    /// A recorded file.
    Replay(PathBuf),
    /// Stamped ticks from a publisher, through NATS (an edge).
    Nats(BusTarget),
}

/// Where ticks go to (`publish --nats URL --subject S`) or come from
/// (`--feed nats://HOST:PORT/SUBJECT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusTarget {
    /// The NATS server, `nats://HOST:PORT`.
    pub url: String,
    /// The subject the ticks travel on.
    pub subject: String,
}

impl BusTarget {
    /// `nats://HOST:PORT[/SUBJECT]`; the subject defaults to
    /// [`DEFAULT_SUBJECT`].
    pub fn parse_feed(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("nats://")
            .ok_or_else(|| format!("{s:?} is not a nats:// URL"))?;
        let (host, subject) = match rest.split_once('/') {
            Some((host, "")) => (host, DEFAULT_SUBJECT),
            Some((host, subject)) => (host, subject),
            None => (rest, DEFAULT_SUBJECT),
        };
        if host.is_empty() {
            return Err("nats:// needs a host, e.g. nats://127.0.0.1:4222".into());
        }
        Self::new(format!("nats://{host}"), subject.to_owned())
    }

    /// A target, with the subject checked: NATS tokens separated by dots,
    /// no spaces, no wildcards (an edge subscribes to exactly one).
    pub fn new(url: String, subject: String) -> Result<Self, String> {
        let valid = !subject.is_empty()
            && subject
                .split('.')
                .all(|t| !t.is_empty() && !t.contains(['*', '>', ' ', '\t']));
        if !valid {
            return Err(format!(
                "subject {subject:?}: dot-separated tokens, no spaces or wildcards"
            ));
        }
        Ok(Self { url, subject })
    }
}

/// The subject ticks travel on unless one is named.
pub const DEFAULT_SUBJECT: &str = "marketfeed.ticks";

impl FromStr for FeedSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "simulator" => Ok(Self::Simulator),
            "stdin" => Ok(Self::Stdin),
            _ => match s.strip_prefix("replay:") {
                Some("") => Err("replay: needs a file, e.g. replay:day.jsonl".into()),
                Some(path) => Ok(Self::Replay(PathBuf::from(path))),
                None if s.starts_with("nats://") => BusTarget::parse_feed(s).map(Self::Nats),
                None => Err(format!(
                    "unknown feed {s:?}: simulator, stdin, replay:PATH or nats://HOST:PORT[/SUBJECT]"
                )),
            },
        }
    }
}

impl std::fmt::Display for FeedSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Simulator => f.write_str("simulator"),
            Self::Stdin => f.write_str("stdin"),
            Self::Replay(path) => write!(f, "replay:{}", path.display()),
            Self::Nats(target) => write!(f, "{}/{}", target.url, target.subject),
        }
    }
}
