//! The tick loop and the heartbeat loop: the two clocks of the server.

use std::time::Duration;

use marketfeed_protocol::MarketSnapshot;
use tokio::time::{self, Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::fanout::clock::unix_micros;
use crate::fanout::encoder::Greeting;
use crate::fanout::hub::Hub;
use crate::feed::market::is_trading;
use crate::feed::replay::Recorder;
use crate::feed::{FeedReport, SnapshotSource};
use crate::ops::readiness::{FeedHealth, FeedStatus};

/// What the tick loop needs besides the source.
#[derive(Debug)]
pub struct TickerConfig {
    /// The configured tick interval (a replay may space ticks otherwise).
    pub interval: Duration,
    /// A live source silent this long during a trading phase is stale.
    pub stale_after: Duration,
    /// Where to append every published snapshot (`--record`).
    pub recorder: Option<Recorder>,
    /// The `hello` frame to keep in step with the published symbols.
    pub greeting: Greeting,
    /// Where the feed's health is published for readiness and metrics.
    pub status: FeedStatus,
    /// A publisher's link to its edges: every stamped snapshot is offered
    /// to it too.
    pub outlet: Option<crate::cluster::publisher::Outlet>,
}

/// Takes the feed's snapshot at the source's cadence (the tick interval,
/// or a replay's recorded spacing), stamps `seq` (+1 per published
/// snapshot, starting at 1), `ts` (unix microseconds) and `stale`, records
/// it when asked, and publishes it to the hub, until `cancel` fires. A
/// tick with nothing to publish (a live feed before its first `snapshot`
/// line) uses no `seq`.
pub async fn run_ticker(
    mut source: Box<dyn SnapshotSource>,
    hub: Hub,
    mut config: TickerConfig,
    cancel: CancellationToken,
) {
    let mut seq = 0u64;
    let mut due = Instant::now();
    let mut was = (false, false);
    loop {
        if due > Instant::now() {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                () = time::sleep_until(due) => {}
            }
        } else {
            // A zero interval (replay at max) must not starve the runtime.
            tokio::task::yield_now().await;
            if cancel.is_cancelled() {
                break;
            }
        }
        let snapshot = source.next_snapshot();
        let report = source.report();
        let phase = snapshot.as_ref().map(|s| s.phase);
        let stale = is_stale(&report, phase, config.stale_after);
        let ended = report.ended;
        log_transition(was, (stale, ended), &report);
        was = (stale, ended);
        if let Some(mut snapshot) = snapshot {
            seq += 1;
            snapshot.seq = seq;
            snapshot.ts = unix_micros();
            snapshot.stale = stale || (ended && phase.is_some_and(is_trading));
            publish(&hub, &mut config, snapshot);
        }
        // After the tick is published (and recorded): readiness saying
        // "feed ended" means the last snapshot is already out.
        config.status.set(FeedHealth { report, stale });
        // A late tick is sent late, never twice in a burst.
        let next = source.next_interval(config.interval);
        let now = Instant::now();
        due = if due + next < now {
            now + next
        } else {
            due + next
        };
    }
    tracing::debug!(last_seq = seq, "ticker stopped");
}

fn publish(hub: &Hub, config: &mut TickerConfig, snapshot: MarketSnapshot) {
    if let Some(outlet) = &config.outlet {
        outlet.offer(&snapshot);
    }
    deliver(hub, &config.greeting, config.recorder.as_mut(), snapshot);
}

/// Hands one stamped snapshot to the node's clients: keeps the greeting
/// in step with its symbols, records it when asked, publishes it to the
/// hub. The same on a single node, a publisher and an edge.
pub(crate) fn deliver(
    hub: &Hub,
    greeting: &Greeting,
    recorder: Option<&mut Recorder>,
    snapshot: MarketSnapshot,
) {
    greeting.follow(snapshot.quotes.iter().map(|q| q.symbol.as_str()));
    if let Some(recorder) = recorder {
        recorder.record(&snapshot);
    }
    hub.publish(snapshot);
}

/// A live source that has been silent for `stale_after` while the phase
/// trades. Before its first update a source is not stale: readiness says
/// "no snapshot yet" instead.
fn is_stale(
    report: &FeedReport,
    phase: Option<marketfeed_protocol::TradingPhase>,
    stale_after: Duration,
) -> bool {
    report.live
        && !report.ended
        && phase.is_some_and(is_trading)
        && report
            .since_last_update
            .is_some_and(|age| age >= stale_after)
}

pub(crate) fn log_transition(was: (bool, bool), now: (bool, bool), report: &FeedReport) {
    let age = report.since_last_update.map(|d| format!("{d:.1?}"));
    match (was.0, now.0) {
        (false, true) => tracing::warn!(
            silent_for = age.as_deref().unwrap_or("-"),
            "feed stale: no update during a trading phase"
        ),
        (true, false) if !now.1 => tracing::info!("feed fresh again"),
        // The end of input is logged by the source that saw it.
        _ => {}
    }
}

/// Sends a WebSocket Ping to every client each `interval`, and closes
/// (`CloseCode::HEARTBEAT_TIMEOUT`) any client from which nothing arrived for
/// `limit` (`Config::silence_limit`: interval + timeout). Checks silence
/// several times per interval so the bound holds within a fraction of the
/// timeout.
pub async fn run_heartbeat(
    hub: Hub,
    interval: Duration,
    limit: Duration,
    cancel: CancellationToken,
) {
    let timeout = limit.saturating_sub(interval);
    let check = (interval.min(timeout) / 4).max(Duration::from_millis(10));
    let mut tick = time::interval(check);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut since_ping = Duration::ZERO;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        since_ping += check;
        let ping = since_ping >= interval;
        if ping {
            since_ping = Duration::ZERO;
        }
        let closed = hub.heartbeat(ping, limit);
        if closed > 0 {
            tracing::debug!(closed, "closed silent clients");
        }
    }
}
