//! The edge's side of the link: [`run_link`] subscribes to the subject and
//! hands every message on with its time of receipt; [`run_relay`] checks
//! it against the stream it follows and gives the hub the publisher's
//! snapshot as it is (`seq`, `ts` and `stale` untouched, so every edge
//! sends the same bytes for the same `seq`).
//!
//! Checks, each refusal counted by reason ([`super::REJECT_REASONS`]):
//! the envelope decodes with the expected version and is stamped; within
//! the current epoch `seq` grows; an older epoch is refused while the
//! current one is live. A newer epoch — or any epoch once the current one
//! went stale (a standby publisher whose clock is behind) — is taken up:
//! the greeting gets the new epoch and every connected client is sent the
//! new `hello` before the new stream's first snapshot.
//!
//! When nothing valid arrives for `--feed-stale-after` (publisher gone,
//! broker down or restarting), the last state is sent once more with
//! `stale: true` (same `seq`), `/readyz` answers 503 and
//! `marketfeed_feed_stale` is 1; clients stay connected. The next valid
//! tick clears it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use marketfeed_protocol::{decode_tick, MarketSnapshot};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::BusMetrics;
use crate::fanout::clock::unix_micros;
use crate::fanout::encoder::Greeting;
use crate::fanout::hub::Hub;
use crate::fanout::ticker::{deliver, log_transition};
use crate::feed::replay::Recorder;
use crate::feed::{BusTarget, FeedReport};
use crate::ops::readiness::{FeedHealth, FeedStatus};

/// Messages waiting for the relay; beyond this one is dropped and counted
/// (`overflow`).
const LINK_QUEUE: usize = 1024;

/// One message off the subject.
#[derive(Debug)]
pub struct Received {
    payload: Bytes,
    /// Unix microseconds at receipt.
    at_us: u64,
}

/// A channel from [`run_link`] to [`run_relay`].
pub fn channel() -> (mpsc::Sender<Received>, mpsc::Receiver<Received>) {
    mpsc::channel(LINK_QUEUE)
}

/// Subscribes to `target` and forwards every message until `cancel`
/// fires. The client reconnects and resubscribes by itself.
pub async fn run_link(
    target: BusTarget,
    tx: mpsc::Sender<Received>,
    metrics: BusMetrics,
    cancel: CancellationToken,
) {
    let Some(client) = super::connect("marketfeed-edge", &target, &metrics).await else {
        return;
    };
    tracing::info!(nats = %target.url, subject = %target.subject, "following ticks");
    while !cancel.is_cancelled() {
        let mut subscription = match client.subscribe(target.subject.clone()).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("cannot subscribe to {}: {e}", target.subject);
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(Duration::from_secs(1)) => continue,
                }
            }
        };
        loop {
            let message = tokio::select! {
                biased;
                () = cancel.cancelled() => return,
                m = subscription.next() => m,
            };
            let Some(message) = message else {
                tracing::warn!("NATS subscription ended; subscribing again");
                break;
            };
            metrics.received.inc();
            let received = Received {
                payload: message.payload,
                at_us: unix_micros(),
            };
            if tx.try_send(received).is_err() {
                metrics.reject("overflow");
            }
        }
    }
}

/// What the relay needs besides its input.
#[derive(Debug)]
pub struct RelayConfig {
    /// No valid tick for this long: the state is stale.
    pub stale_after: Duration,
    /// The `hello` to keep in step with the stream.
    pub greeting: Greeting,
    /// Where the feed's health is published.
    pub status: FeedStatus,
    /// `--record`.
    pub recorder: Option<Recorder>,
    /// The link's counters.
    pub metrics: BusMetrics,
}

/// The stream the relay follows.
#[derive(Debug, Default)]
struct Stream {
    epoch: u64,
    last_seq: u64,
    last_at: Option<Instant>,
    last: Option<MarketSnapshot>,
    stale: bool,
    received: u64,
    applied: u64,
}

/// Checks every received message and publishes the good ones to `hub`
/// at once, until `cancel` fires; watches for silence.
pub async fn run_relay(
    mut rx: mpsc::Receiver<Received>,
    hub: Hub,
    mut config: RelayConfig,
    cancel: CancellationToken,
) {
    let check = (config.stale_after / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
    let mut watch = tokio::time::interval(check);
    watch.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stream = Stream::default();
    loop {
        tokio::select! {
            biased;
            () = cancel.cancelled() => break,
            next = rx.recv() => match next {
                Some(received) => accept(&mut stream, &hub, &mut config, received),
                None => break,
            },
            _ = watch.tick() => watch_silence(&mut stream, &hub, &mut config),
        }
    }
    tracing::debug!(
        epoch = stream.epoch,
        last_seq = stream.last_seq,
        "relay stopped"
    );
}

fn accept(stream: &mut Stream, hub: &Hub, config: &mut RelayConfig, received: Received) {
    stream.received += 1;
    let tick = match decode_tick(&received.payload) {
        Ok(tick) => tick,
        Err(e) => {
            config.metrics.reject(e.label());
            tracing::debug!("refused a bus message: {e}");
            return;
        }
    };
    if tick.epoch == stream.epoch {
        if tick.snapshot.seq <= stream.last_seq {
            config.metrics.reject("old_seq");
            return;
        }
    } else if tick.epoch < stream.epoch && !stream.stale {
        config.metrics.reject("old_epoch");
        return;
    } else {
        tracing::info!(
            epoch = tick.epoch,
            previous = stream.epoch,
            seq = tick.snapshot.seq,
            "new stream epoch; clients get a new hello"
        );
        stream.epoch = tick.epoch;
        config.metrics.epochs.inc();
        config.greeting.set_epoch(tick.epoch);
        hub.new_stream(|format| config.greeting.frame(format));
    }
    let latency_us = received.at_us.saturating_sub(tick.snapshot.ts);
    config
        .metrics
        .latency
        .observe(Duration::from_micros(latency_us).as_secs_f64());
    stream.applied += 1;
    stream.last_seq = tick.snapshot.seq;
    stream.last_at = Some(Instant::now());
    let was_stale = stream.stale;
    stream.stale = false;
    report(stream, config, was_stale);
    stream.last = Some(tick.snapshot.clone());
    deliver(
        hub,
        &config.greeting,
        config.recorder.as_mut(),
        tick.snapshot,
    );
}

fn watch_silence(stream: &mut Stream, hub: &Hub, config: &mut RelayConfig) {
    let Some(at) = stream.last_at else {
        return;
    };
    let was_stale = stream.stale;
    stream.stale = at.elapsed() >= config.stale_after;
    report(stream, config, was_stale);
    if stream.stale && !was_stale {
        // Tell the clients once: the last state again, marked stale.
        if let Some(mut last) = stream.last.clone() {
            last.stale = true;
            deliver(hub, &config.greeting, None, last);
        }
    }
}

fn report(stream: &Stream, config: &RelayConfig, was_stale: bool) {
    let report = FeedReport {
        live: true,
        lines: stream.received,
        applied: stream.applied,
        rejected: Default::default(),
        since_last_update: stream.last_at.map(|at| at.elapsed()),
        ended: false,
    };
    log_transition((was_stale, false), (stream.stale, false), &report);
    config.status.set(FeedHealth {
        report,
        stale: stream.stale,
    });
}
