//! The sources behind `--feed stdin` and `--feed replay:PATH`, and
//! [`build`], which makes the one the configuration asks for.

use std::time::Duration;

use marketfeed_protocol::MarketSnapshot;

use super::ingest::{read_lines, LiveMarket};
use super::replay::{Replay, ReplayError, ReplaySpeed};
use super::schedule::Schedule;
use super::{FeedReport, FeedSpec, Simulator, SnapshotSource};

/// Room for a whole ingest line in the reader's buffer.
const STDIN_BUFFER: usize = 64 * 1024;

/// Ingest lines on standard input, read by a task into a [`LiveMarket`];
/// each tick samples the newest state.
#[derive(Debug)]
pub struct StdinFeed {
    market: LiveMarket,
}

impl StdinFeed {
    /// Spawns the reading task on the current Tokio runtime.
    pub fn spawn() -> Self {
        let market = LiveMarket::new();
        let input = tokio::io::BufReader::with_capacity(STDIN_BUFFER, tokio::io::stdin());
        tokio::spawn(read_lines(input, market.clone()));
        Self { market }
    }
}

impl SnapshotSource for StdinFeed {
    fn symbols(&self) -> Vec<String> {
        self.market.symbols()
    }

    fn next_snapshot(&mut self) -> Option<MarketSnapshot> {
        self.market.snapshot()
    }

    fn report(&self) -> FeedReport {
        let stats = self.market.stats();
        FeedReport {
            live: true,
            lines: stats.lines,
            applied: stats.applied,
            rejected: stats.rejected,
            since_last_update: self.market.since_last_update(),
            ended: stats.ended,
        }
    }
}

/// A recorded file played back; once it ends (without loop) the last
/// snapshot is served at the tick interval.
#[derive(Debug)]
pub struct ReplayFeed {
    replay: Replay,
    /// The entry due next and its delay, read ahead so the ticker knows
    /// how long to wait for it.
    next: Option<(MarketSnapshot, Duration)>,
    last: Option<MarketSnapshot>,
    symbols: Vec<String>,
    lines: u64,
}

impl ReplayFeed {
    /// Opens the file; a missing or empty file is an error naming it.
    pub fn open(
        path: &std::path::Path,
        speed: ReplaySpeed,
        looped: bool,
    ) -> Result<Self, ReplayError> {
        let mut replay = Replay::open(path, speed, looped)?;
        let next = replay.next_tick();
        let symbols = next
            .as_ref()
            .map(|(s, _)| s.quotes.iter().map(|q| q.symbol.clone()).collect())
            .unwrap_or_default();
        Ok(Self {
            replay,
            next,
            last: None,
            symbols,
            lines: 0,
        })
    }
}

impl SnapshotSource for ReplayFeed {
    fn symbols(&self) -> Vec<String> {
        self.symbols.clone()
    }

    fn next_snapshot(&mut self) -> Option<MarketSnapshot> {
        if let Some((snapshot, _)) = self.next.take() {
            self.lines += 1;
            self.symbols = snapshot.quotes.iter().map(|q| q.symbol.clone()).collect();
            self.last = Some(snapshot);
            self.next = self.replay.next_tick();
            if self.next.is_none() {
                tracing::info!("replay finished; serving the last state");
            }
        }
        self.last.clone()
    }

    fn next_interval(&self, tick: Duration) -> Duration {
        match &self.next {
            // The first entry goes out at the first tick.
            Some(_) if self.last.is_none() => tick,
            Some((_, delay)) => *delay,
            None => tick,
        }
    }

    fn report(&self) -> FeedReport {
        let bad = self.replay.bad_lines();
        let mut rejected = std::collections::BTreeMap::new();
        if bad > 0 {
            rejected.insert("bad_line", bad);
        }
        FeedReport {
            live: false,
            lines: self.lines + bad,
            applied: self.lines,
            rejected,
            since_last_update: None,
            ended: self.next.is_none(),
        }
    }
}

/// The source `spec` names. Spawns the stdin reader, so it runs inside
/// the Tokio runtime.
pub fn build(
    spec: &FeedSpec,
    seed: u64,
    schedule: Schedule,
    speed: ReplaySpeed,
    looped: bool,
) -> Result<Box<dyn SnapshotSource>, ReplayError> {
    Ok(match spec {
        FeedSpec::Simulator => Box::new(Simulator::with_schedule(seed, schedule)),
        FeedSpec::Stdin => Box::new(StdinFeed::spawn()),
        FeedSpec::Replay(path) => Box::new(ReplayFeed::open(path, speed, looped)?),
        // An edge polls nothing: the server relays what NATS delivers
        // (`cluster::edge`); nothing is ever due from this source.
        FeedSpec::Nats(_) => Box::new(NoSource),
    })
}

/// The polled source of an edge: empty, since its ticks are pushed.
#[derive(Debug)]
struct NoSource;

impl SnapshotSource for NoSource {
    fn symbols(&self) -> Vec<String> {
        Vec::new()
    }

    fn next_snapshot(&mut self) -> Option<MarketSnapshot> {
        None
    }
}
