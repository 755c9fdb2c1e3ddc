//! The tick loop and the heartbeat loop: the two clocks of the server.

use std::time::Duration;

use tokio::time::{self, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use crate::fanout::clock::unix_micros;
use crate::fanout::hub::Hub;
use crate::feed::SnapshotSource;

/// Every `interval`, takes the feed's snapshot, stamps `seq` (+1 per tick,
/// starting at 1) and `ts` (unix microseconds) and publishes it to the hub,
/// until `cancel` fires.
pub async fn run_ticker(
    mut source: Box<dyn SnapshotSource>,
    hub: Hub,
    interval: Duration,
    cancel: CancellationToken,
) {
    let mut tick = time::interval(interval);
    // A late tick is sent late, never twice in a burst.
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut seq = 0u64;
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            _ = tick.tick() => {}
        }
        let mut snapshot = source.next_snapshot();
        seq += 1;
        snapshot.seq = seq;
        snapshot.ts = unix_micros();
        hub.publish(snapshot);
    }
    tracing::debug!(last_seq = seq, "ticker stopped");
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
