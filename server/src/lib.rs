//! marketfeed's broadcast server: one market snapshot per tick, serialized
//! once, fanned out over WebSocket to every connected browser.
//!
//! ```text
//! feed ──snapshot──> ticker ──stamped──> encoder ──one frame──> hub ──same Bytes──> outbox ──> socket
//! ```
//!
//! The library is what the binary and the tests run: [`Server::start`]
//! takes a bound listener (tests bind port 0) and returns a handle with the
//! bound address, live counters ([`HubStats`]) and a graceful
//! [`Server::shutdown`]; [`run`] drives one until a shutdown future
//! resolves.
//!
//! # Layout
//!
//! Folders by concern, in the order data flows; only what the binary, the
//! tests and embedders use is public.
//!
//! * [`feed`] (public) — where snapshots come from: [`feed::SnapshotSource`],
//!   the VN30 [`feed::Simulator`], ingest lines on stdin, a replayed
//!   recording.
//! * `fanout` — ticker → encoder → hub → outbox → session: the tick loop
//!   and heartbeat, the one place a snapshot is serialized, the client
//!   registry, each client's bounded outbox and connection task, and the
//!   counters behind [`HubStats`].
//! * [`ws`] (public, for fuzzing and interop) — the server side of RFC
//!   6455: frame encoding, the strict frame reader, the handshake check.
//! * `admission` — who may connect: tokens, `Origin`, connection slots, and
//!   the `Rejection` every refusal is ([`auth`] exports the token minting).
//! * `cluster` — a publisher's and an edge's link through NATS: one
//!   message per tick, checked and relayed unchanged by every edge.
//! * `http` — the accept loop, the routes, the `/ws/market` upgrade and
//!   the state they share.
//! * `ops` — settings ([`Config`], each default written once), Prometheus
//!   metrics, readiness, memory upkeep.

mod admission;
mod cluster;
mod fanout;
pub mod feed;
mod http;
mod ops;
pub mod ws;

/// Token minting, for applications that issue their clients' tokens with
/// the server's secret (the server verifies them before the upgrade).
pub mod auth {
    pub use crate::admission::auth::{mint, KeyError, Secret};
}

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use marketfeed_protocol::CloseCode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use fanout::{HubStats, SlowClientPolicy, TickHistogram, TICK_BUCKETS_US};
pub use ops::config::{
    defaults, load_secret, Cli, Command, Compression, Config, ConfigCommand, ConfigError,
    LogFormat, PublishArgs, TokenArgs,
};
pub use ops::config_file::{check as check_config_file, parse_cli, CliError};

use crate::fanout::hub::{Hub, HubConfig};
use crate::fanout::session::SessionConfig;
use crate::feed::SnapshotSource;
use crate::http::state::AppState;

/// A running server.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    hub: Hub,
    shutdown: CancellationToken,
    draining: CancellationToken,
    tasks: TaskTracker,
    drain: std::time::Duration,
    drain_delay: std::time::Duration,
    limiter: admission::limits::Limiter,
    metrics: ops::metrics::Metrics,
    accept_rate: http::accept::AcceptRate,
    listen_backlog: u32,
}

impl Server {
    /// Starts serving on `listener` with the feed `--feed` names (the
    /// simulated VN30 market by default). Runs inside a Tokio runtime.
    pub fn start(config: Config, listener: TcpListener) -> Result<Self, ServerError> {
        if let feed::FeedSpec::Nats(target) = &config.feed {
            tracing::info!(feed = %config.feed, "edge: ticks come stamped from NATS");
            let target = target.clone();
            return Self::start_inner(config, listener, Input::Bus(target));
        }
        let source = feed::source::build(
            &config.feed,
            config.seed,
            config.sim_schedule,
            config.replay_speed,
            config.replay_loop,
        )?;
        tracing::info!(feed = %config.feed, "feed source chosen");
        Self::start_with_source(config, listener, source)
    }

    /// Starts serving on `listener`, taking snapshots from `source`.
    pub fn start_with_source(
        config: Config,
        listener: TcpListener,
        source: Box<dyn SnapshotSource>,
    ) -> Result<Self, ServerError> {
        Self::start_inner(config, listener, Input::Polled(source))
    }

    fn start_inner(
        config: Config,
        listener: TcpListener,
        input: Input,
    ) -> Result<Self, ServerError> {
        let addr = listener.local_addr().map_err(|source| ServerError::Io {
            context: "reading the bound address",
            source,
        })?;
        let recorder = config
            .record
            .as_deref()
            .map(feed::replay::Recorder::create)
            .transpose()?;
        let www = resolve_www(config.www_dir.as_deref())?;
        let hub = Hub::new(HubConfig {
            policy: config.slow_client_policy,
            client_queue: config.client_queue,
            keyframe_interval: config.keyframe_interval,
            max_symbols_per_client: config.max_symbols_per_client,
        });
        let shutdown = CancellationToken::new();
        let draining = CancellationToken::new();
        let tasks = TaskTracker::new();
        warn_if_open(&config, addr);
        let feed_status = ops::readiness::FeedStatus::default();
        // The stream's epoch: this node's start, unless an edge (its
        // publisher's, learnt from the first tick).
        let (symbols, epoch) = match &input {
            Input::Polled(source) => (source.symbols(), fanout::clock::unix_micros()),
            Input::Bus(_) => (Vec::new(), 0),
        };
        let greeting = fanout::encoder::Greeting::new(
            millis(config.heartbeat_interval),
            millis(config.tick_interval),
            symbols,
            epoch,
        );
        let bus_metrics = (config.publish.is_some() || matches!(input, Input::Bus(_)))
            .then(cluster::BusMetrics::default);
        let metrics = ops::metrics::Metrics::new(
            hub.clone(),
            draining.clone(),
            feed_status.clone(),
            bus_metrics.as_ref(),
        );
        let limiter = admission::limits::Limiter::new(admission::limits::LimitConfig {
            max: config.max_connections,
            per_ip: config.max_connections_per_ip,
            limit_loopback: config.limit_loopback,
        });
        let state = AppState {
            hub: hub.clone(),
            greeting: greeting.clone(),
            feed: feed_status.clone(),
            session: SessionConfig {
                max_message_size: config.max_message_size,
                close_wait: config.shutdown_drain,
                rate: fanout::ratelimit::RateConfig {
                    rate: config.client_msg_rate,
                    burst: config.client_msg_burst,
                },
            },
            draining: draining.clone(),
            tasks: tasks.clone(),
            auth: config
                .auth_secret
                .as_ref()
                .map(admission::auth::Authenticator::new),
            origins: admission::origin::OriginPolicy::new(config.allowed_origins.clone()),
            proxies: admission::proxy::TrustedProxies::new(config.trusted_proxies.clone()),
            limiter: limiter.clone(),
            metrics: metrics.clone(),
            retry_after_secs: defaults::RETRY_AFTER_SECS,
            compression: config.compression == Compression::On,
        };
        match (input, bus_metrics) {
            (Input::Bus(target), bus) => {
                let bus = bus.unwrap_or_default();
                let (tx, rx) = cluster::edge::channel();
                tasks.spawn(cluster::edge::run_link(
                    target,
                    tx,
                    bus.clone(),
                    shutdown.clone(),
                ));
                tasks.spawn(cluster::edge::run_relay(
                    rx,
                    hub.clone(),
                    cluster::edge::RelayConfig {
                        stale_after: config.feed_stale_after,
                        greeting,
                        status: feed_status,
                        recorder,
                        metrics: bus,
                    },
                    shutdown.clone(),
                ));
            }
            (Input::Polled(source), bus) => {
                let outlet = match (config.publish.clone(), bus) {
                    (Some(target), Some(bus)) => Some(cluster::publisher::start(
                        target,
                        epoch,
                        bus,
                        shutdown.clone(),
                        &tasks,
                    )),
                    _ => None,
                };
                tasks.spawn(fanout::ticker::run_ticker(
                    source,
                    hub.clone(),
                    fanout::ticker::TickerConfig {
                        interval: config.tick_interval,
                        stale_after: config.feed_stale_after,
                        recorder,
                        greeting,
                        status: feed_status,
                        outlet,
                    },
                    shutdown.clone(),
                ));
            }
        }
        tasks.spawn(fanout::ticker::run_heartbeat(
            hub.clone(),
            config.heartbeat_interval,
            config.silence_limit(),
            shutdown.clone(),
        ));
        tasks.spawn(ops::memory::run_trimmer(hub.clone(), shutdown.clone()));
        let conn = http::accept::ConnConfig {
            request_timeout: config.request_timeout,
            send_buffer: config.send_buffer,
            send_lowat: config.send_lowat,
            max_request_head: config.max_request_head,
            max_pending: config.max_pending_handshakes,
        };
        let accept_rate = http::accept::AcceptRate::default();
        tasks.spawn(http::accept::accept_loop(
            listener,
            http::routes::routes(state, www),
            conn,
            metrics.clone(),
            shutdown.clone(),
            tasks.clone(),
            accept_rate.clone(),
        ));
        tracing::info!("listening on {addr} (board: http://{addr}/  feed: ws://{addr}/ws/market)");
        Ok(Self {
            addr,
            hub,
            shutdown,
            draining,
            tasks,
            drain: config.shutdown_drain,
            drain_delay: config.drain_delay,
            limiter,
            metrics,
            accept_rate,
            listen_backlog: config.listen_backlog,
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Live counters (ticks, serializations, clients, drops…).
    pub fn stats(&self) -> HubStats {
        self.hub.stats()
    }

    /// The metrics text that `GET /metrics` serves, read in-process (for
    /// embedders with their own exporter, and for when the server refuses
    /// new connections).
    pub fn metrics_text(&self) -> String {
        self.metrics.render()
    }

    /// The reconnect spread a shutdown now would announce in its 1001:
    /// zero while half `--listen-backlog` holds every client, otherwise the
    /// time the rest take at the highest accept rate measured (at most a
    /// minute).
    pub fn reconnect_spread(&self) -> std::time::Duration {
        self.accept_rate
            .spread_for(self.hub.client_count(), self.listen_backlog)
    }

    /// Connection slots held now (WebSocket sessions and handshakes past
    /// the limit check).
    pub fn connection_slots(&self) -> usize {
        self.limiter.held()
    }

    /// Turns `/readyz` to 503 and refuses new upgrades for `--drain-delay`
    /// (so load balancers stop sending clients), then stops accepting,
    /// stops the ticker, closes every client with 1001 "going away" and
    /// waits up to the drain bound for them to go. With more clients than
    /// half `--listen-backlog` the 1001 carries a reconnect spread
    /// ([`Server::reconnect_spread`]).
    pub async fn shutdown(self) {
        tracing::info!(clients = self.hub.stats().clients, "shutting down");
        self.draining.cancel();
        if !self.drain_delay.is_zero() {
            tracing::info!(delay = ?self.drain_delay, "draining: /readyz answers 503");
            tokio::time::sleep(self.drain_delay).await;
        }
        self.shutdown.cancel();
        let clients = self.hub.client_count();
        let spread = self.reconnect_spread();
        tracing::info!(
            clients,
            accept_rate = self.accept_rate.peak_per_s(),
            spread_ms = millis(spread),
            "closing clients (1001) with a reconnect spread"
        );
        let reason = marketfeed_protocol::close::going_away_reason(millis(spread));
        self.hub.close_all(CloseCode::GOING_AWAY, &reason);
        self.tasks.close();
        let bound = self.drain + std::time::Duration::from_millis(250);
        if tokio::time::timeout(bound, self.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                remaining = self.tasks.len(),
                "drain bound reached; dropping remaining connections"
            );
        }
        let stats = self.hub.stats();
        tracing::info!(
            ticks = stats.ticks,
            serializations = stats.serializations,
            connections = stats.connections,
            dropped = stats.dropped,
            "stopped"
        );
    }
}

/// Where a node's ticks come from.
enum Input {
    /// A source the ticker polls and stamps (a single node, a publisher).
    Polled(Box<dyn SnapshotSource>),
    /// Stamped ticks pushed by a publisher through NATS (an edge).
    Bus(feed::BusTarget),
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
    /// `--www-dir` names something that is not a directory.
    #[error("www directory {} does not exist or is not a directory", path.display())]
    WwwDir {
        /// The path given.
        path: PathBuf,
    },
    /// The configuration cannot be used (e.g. the auth secret).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The feed or the recording could not start (a missing or empty
    /// replay file, a `--record` path that cannot be opened).
    #[error(transparent)]
    Feed(#[from] feed::replay::ReplayError),
    /// A token could not be minted.
    #[error(transparent)]
    Key(#[from] auth::KeyError),
    /// Another I/O failure while starting.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// What the OS said.
        source: std::io::Error,
    },
}

/// Serves on `listener` until `shutdown` resolves, then shuts down
/// gracefully.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    let server = Server::start(config, listener)?;
    shutdown.await;
    server.shutdown().await;
    Ok(())
}

/// Says at startup whether anyone may connect.
fn warn_if_open(config: &Config, addr: SocketAddr) {
    if config.auth_secret.is_some() {
        tracing::info!("authentication on: clients need an HS256 token (query `token` or Authorization: Bearer)");
    } else if addr.ip().is_loopback() {
        tracing::warn!("authentication off: set --auth-secret-file or MARKETFEED_AUTH_SECRET to require tokens");
    } else {
        tracing::warn!(
            "AUTHENTICATION OFF on non-loopback address {addr}: ANYONE who can reach it may connect; \
             set --auth-secret-file or MARKETFEED_AUTH_SECRET"
        );
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn resolve_www(dir: Option<&Path>) -> Result<Option<PathBuf>, ServerError> {
    match dir {
        Some(path) if path.is_dir() => Ok(Some(path.to_path_buf())),
        Some(path) => Err(ServerError::WwwDir {
            path: path.to_path_buf(),
        }),
        None => {
            let default = Path::new(defaults::WWW_DIR);
            if default.is_dir() {
                Ok(Some(default.to_path_buf()))
            } else {
                tracing::warn!("no ./www directory and no --www-dir: `/` answers 404");
                Ok(None)
            }
        }
    }
}
