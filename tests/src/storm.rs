//! Reconnecting clients, behind `marketfeed-storm`: N raw-socket clients
//! that reconnect the way the web client does, for the reconnect-storm and
//! soak scripts.
//!
//! * After the server's 1001 a client waits a delay drawn uniformly from 0
//!   to the reconnect spread the reason carries (plain 1001: the backoff's
//!   first window), as `web-client/src/connection.rs` does.
//! * After a connection lost without a close (kill -9) or a failed
//!   attempt it backs off with full jitter: a delay drawn from 0 to
//!   500 ms × 2^attempt, at most 20 s (the web client's defaults); a
//!   connection that lasted 10 s resets the count.
//!
//! `storm` mode waits until every client receives, prints a `ready` line,
//! then for every wave of disconnects prints a `recovered` line: how long
//! from the first disconnect until every client had a snapshot on a new
//! connection, with the attempts that failed meanwhile. `churn` mode keeps
//! every client connecting, reading for a random 1–10 s and closing
//! (1000), forever. Both print one JSON line per event on stdout.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use marketfeed_protocol::close::reconnect_spread_ms;
use nix::sys::socket::{setsockopt, sockopt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use crate::loadgen::frame::{self, MaskSource};
use crate::loadgen::scan::{scan, Scanned};
use crate::loadgen::{handshake, limits, target};

/// First backoff window, ms (the web client's `initialDelayMs`).
const INITIAL_MS: f64 = 500.0;
/// Backoff cap, ms (`maxDelayMs`).
const MAX_MS: f64 = 20_000.0;
/// A connection up this long resets the backoff (`resetAfterMs`).
const RESET_AFTER: Duration = Duration::from_secs(10);
/// Largest frame accepted.
const MAX_FRAME: usize = 1 << 22;
/// Limit for one connect + upgrade.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StormError {
    /// The URL is unusable.
    #[error(transparent)]
    Target(#[from] target::TargetError),
    /// The runtime could not be built.
    #[error("runtime: {0}")]
    Runtime(io::Error),
}

/// What the clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Stay connected, reconnect like the web client, report recoveries.
    Storm,
    /// Connect, read 1–10 s, close, again and again.
    Churn,
}

/// Command line of `marketfeed-storm`.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "marketfeed-storm", version)]
pub struct Config {
    /// WebSocket URL of the server (loopback only).
    #[arg(long, default_value = "ws://127.0.0.1:8080/ws/market")]
    pub url: String,
    /// Number of clients.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub clients: u64,
    /// What the clients do.
    #[arg(long, value_enum, default_value_t = Mode::Storm)]
    pub mode: Mode,
    /// Connection attempts started per second while first connecting.
    #[arg(long, default_value_t = 2000.0)]
    pub ramp_rate: f64,
    /// Local addresses to spread client sockets over (comma separated).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4"
    )]
    pub source_addrs: Vec<IpAddr>,
    /// Stop after this many waves of disconnects (storm mode; 0: never).
    #[arg(long, default_value_t = 0)]
    pub waves: u32,
}

/// Counters shared by the clients of the thread.
#[derive(Debug, Default)]
struct Shared {
    /// Clients with a snapshot on their current connection.
    receiving: u64,
    /// Connections lost (close or not) since the start.
    disconnects: u64,
    /// Attempts that failed (refused, reset, timed out, not 101).
    failed: u64,
    /// Connections opened (101 received).
    opened: u64,
    /// Largest reconnect spread seen in a 1001, ms.
    max_spread_ms: u64,
    /// 1001 closes received.
    going_away: u64,
    /// Connections lost without a close frame.
    dropped: u64,
}

/// A small xorshift generator: one per client, seeded by its index.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a connection ended.
#[derive(Debug)]
enum Ended {
    /// The server's close frame with this code and reason.
    Closed(u16, String),
    /// EOF or an error without a close frame.
    Dropped,
    /// Churn mode: this client closed after its read time.
    Left,
}

/// Runs the clients; never returns in churn mode, or with `waves == 0`.
pub fn run(config: &Config) -> Result<(), StormError> {
    let _ = limits::raise_nofile();
    let target = target::parse(&config.url)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StormError::Runtime)?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, drive(config, target));
    Ok(())
}

/// Everything a client needs to know.
#[derive(Debug, Clone)]
struct Plan {
    index: u64,
    server: SocketAddr,
    source: IpAddr,
    host: Rc<str>,
    path: Rc<str>,
    mode: Mode,
}

async fn drive(config: &Config, target: target::Target) {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let host: Rc<str> = target.host.into();
    let path: Rc<str> = target.path.into();
    let started = Instant::now();
    let rate = config.ramp_rate.max(1.0);
    let sources = config.source_addrs.len().max(1) as u64;
    for i in 0..config.clients {
        let due = started + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(due.into()).await;
        let plan = Plan {
            index: i,
            server: target.addr,
            source: config
                .source_addrs
                .get((i % sources) as usize)
                .copied()
                .unwrap_or(IpAddr::from([127, 0, 0, 1])),
            host: host.clone(),
            path: path.clone(),
            mode: config.mode,
        };
        tokio::task::spawn_local(client(plan, shared.clone()));
    }
    if config.mode == Mode::Churn {
        loop {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let s = shared.borrow();
            println!(
                "{{\"event\":\"churn\",\"secs\":{:.1},\"opened\":{},\"failed\":{},\"receiving\":{}}}",
                started.elapsed().as_secs_f64(),
                s.opened,
                s.failed,
                s.receiving
            );
        }
    }
    let n = config.clients;
    while shared.borrow().receiving < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "{{\"event\":\"ready\",\"clients\":{n},\"secs\":{:.3},\"failed\":{}}}",
        started.elapsed().as_secs_f64(),
        shared.borrow().failed
    );
    let mut wave = 0;
    loop {
        let (disc0, failed0, away0, dropped0) = {
            let s = shared.borrow();
            (s.disconnects, s.failed, s.going_away, s.dropped)
        };
        while shared.borrow().disconnects == disc0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let first_loss = Instant::now();
        let mut least = n;
        loop {
            tokio::time::sleep(Duration::from_millis(10)).await;
            let r = shared.borrow().receiving;
            least = least.min(r);
            if r >= n {
                break;
            }
        }
        wave += 1;
        let s = shared.borrow();
        println!(
            "{{\"event\":\"recovered\",\"wave\":{wave},\"secs\":{:.3},\"disconnects\":{},\"going_away\":{},\"dropped_without_close\":{},\"failed_attempts\":{},\"fewest_receiving\":{least},\"max_spread_ms\":{}}}",
            first_loss.elapsed().as_secs_f64(),
            s.disconnects - disc0,
            s.going_away - away0,
            s.dropped - dropped0,
            s.failed - failed0,
            s.max_spread_ms
        );
        if config.waves > 0 && wave >= config.waves {
            return;
        }
    }
}

/// Full jitter over the web client's backoff window for `attempt`.
fn backoff_ms(attempt: u32, rng: &mut Rng) -> f64 {
    let ceiling = (INITIAL_MS * 2f64.powi(attempt.min(30) as i32)).min(MAX_MS);
    rng.unit() * ceiling
}

async fn client(plan: Plan, shared: Rc<RefCell<Shared>>) {
    let mut rng = Rng::new(plan.index + 1);
    let mut masks = MaskSource::new(plan.index);
    let mut attempt: u32 = 0;
    loop {
        let Ok((stream, rest)) = open(&plan).await else {
            shared.borrow_mut().failed += 1;
            let d = backoff_ms(attempt, &mut rng);
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(Duration::from_secs_f64(d / 1000.0)).await;
            continue;
        };
        shared.borrow_mut().opened += 1;
        let opened = Instant::now();
        let read_for = match plan.mode {
            Mode::Churn => Some(Duration::from_secs_f64(1.0 + 9.0 * rng.unit())),
            Mode::Storm => None,
        };
        let ended = session(stream, rest, &shared, read_for, &mut masks).await;
        let delay_ms = {
            let mut s = shared.borrow_mut();
            s.disconnects += 1;
            if opened.elapsed() >= RESET_AFTER {
                attempt = 0;
            }
            match ended {
                Ended::Closed(1001, reason) => {
                    s.going_away += 1;
                    match reconnect_spread_ms(&reason) {
                        Some(spread) => {
                            s.max_spread_ms = s.max_spread_ms.max(spread);
                            attempt = 1;
                            rng.unit() * spread as f64
                        }
                        None => {
                            let d = backoff_ms(0, &mut rng);
                            attempt = 1;
                            d
                        }
                    }
                }
                Ended::Left => 0.0,
                Ended::Closed(..) | Ended::Dropped => {
                    if matches!(ended, Ended::Dropped) {
                        s.dropped += 1;
                    }
                    let d = backoff_ms(attempt, &mut rng);
                    attempt = attempt.saturating_add(1);
                    d
                }
            }
        };
        tokio::time::sleep(Duration::from_secs_f64(delay_ms / 1000.0)).await;
    }
}

async fn open(plan: &Plan) -> io::Result<(TcpStream, Vec<u8>)> {
    let attempt = async {
        let socket = TcpSocket::new_v4()?;
        setsockopt(&socket, sockopt::IpBindAddressNoPort, &true).map_err(io::Error::from)?;
        socket.bind(SocketAddr::new(plan.source, 0))?;
        let mut stream = socket.connect(plan.server).await?;
        stream.set_nodelay(true)?;
        let mut key = [0u8; 16];
        key[..8].copy_from_slice(&plan.index.to_be_bytes());
        let rest = handshake::upgrade(&mut stream, &plan.host, &plan.path, key)
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok((stream, rest))
    };
    tokio::time::timeout(CONNECT_TIMEOUT, attempt)
        .await
        .map_err(|_| io::Error::from(io::ErrorKind::TimedOut))?
}

thread_local! {
    /// One receive buffer for every client of the thread.
    static RX_BUF: RefCell<Vec<u8>> = RefCell::new(vec![0u8; 64 * 1024]);
}

/// One non-blocking read, appended to `pending`.
fn read_into(stream: &TcpStream, pending: &mut Vec<u8>) -> io::Result<usize> {
    RX_BUF.with(|b| {
        let mut b = b.borrow_mut();
        let n = stream.try_read(&mut b)?;
        pending.extend_from_slice(&b[..n]);
        Ok(n)
    })
}

/// Reads one connection until it ends (or, with `read_for`, until then).
async fn session(
    mut stream: TcpStream,
    mut pending: Vec<u8>,
    shared: &Rc<RefCell<Shared>>,
    read_for: Option<Duration>,
    masks: &mut MaskSource,
) -> Ended {
    let mut receiving = false;
    let deadline = read_for.map(|d| tokio::time::Instant::now() + d);
    let ended = 'conn: loop {
        // Every complete frame in `pending`.
        let mut used = 0;
        loop {
            match frame::parse(&pending[used..], MAX_FRAME) {
                Ok(Some((f, len))) => {
                    match f.opcode {
                        0x1 if !receiving => {
                            if let Scanned::Snapshot { .. } = scan(f.payload) {
                                receiving = true;
                                shared.borrow_mut().receiving += 1;
                            }
                        }
                        0x9 => {
                            let pong = frame::build_masked(0xA, f.payload, masks.next_mask());
                            if stream.write_all(&pong).await.is_err() {
                                break 'conn Ended::Dropped;
                            }
                        }
                        0x8 => {
                            let code = match f.payload {
                                [a, b, ..] => u16::from_be_bytes([*a, *b]),
                                _ => 1005,
                            };
                            let reason =
                                String::from_utf8_lossy(f.payload.get(2..).unwrap_or_default())
                                    .into_owned();
                            let echo = frame::build_masked(
                                0x8,
                                f.payload.get(..2).unwrap_or_default(),
                                masks.next_mask(),
                            );
                            let _ = stream.write_all(&echo).await;
                            break 'conn Ended::Closed(code, reason);
                        }
                        _ => {}
                    }
                    used += len;
                }
                Ok(None) => break,
                Err(_) => break 'conn Ended::Dropped,
            }
        }
        pending.drain(..used);
        if pending.is_empty() {
            // Thousands of idle clients must not each keep a read's worth.
            pending = Vec::new();
        }
        let read = async {
            loop {
                stream.readable().await?;
                match read_into(&stream, &mut pending) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    Err(e) => return Err(e),
                }
            }
        };
        let n = match deadline {
            Some(at) => match tokio::time::timeout_at(at, read).await {
                Ok(r) => r,
                Err(_) => {
                    let close = frame::build_masked(0x8, &1000u16.to_be_bytes(), masks.next_mask());
                    let _ = stream.write_all(&close).await;
                    break 'conn Ended::Left;
                }
            },
            None => read.await,
        };
        if !matches!(n, Ok(n) if n > 0) {
            break 'conn Ended::Dropped;
        }
    };
    if receiving {
        shared.borrow_mut().receiving -= 1;
    }
    ended
}
