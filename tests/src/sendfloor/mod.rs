//! The kernel floor of a broadcast: how long a plain loop takes to write
//! the same ~5.5 KB WebSocket frame to N connected loopback sockets.
//!
//! The sender (this process, pinned like the server) accepts N connections
//! from a sink child process (pinned to the other core, draining every
//! socket), then times rounds of `write(frame)` over all N sockets. No
//! allocation, no wake-ups, no locks: what is left is the kernel's per-send
//! cost, including loopback delivery into the receiver's socket. The
//! server's fan-out time divided by this is its overhead ratio.

pub mod sink;

use std::io::{self, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;

use crate::loadgen::procfs;

/// Options of `marketfeed-sendfloor`.
#[derive(Debug, Clone, Parser)]
#[command(name = "marketfeed-sendfloor", version)]
pub struct Config {
    /// Number of sockets to write to.
    #[arg(long, short = 'n', default_value_t = 1000)]
    pub clients: usize,
    /// Payload bytes of the frame (a snapshot is ~5.5 KB).
    #[arg(long, default_value_t = 5500)]
    pub frame_bytes: usize,
    /// Timed rounds (one write per socket each).
    #[arg(long, default_value_t = 20)]
    pub rounds: usize,
    /// Pause between rounds, so the sink drains every socket.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// CPU to pin the sink process to.
    #[arg(long)]
    pub sink_cpu: Option<usize>,
    /// Internal: run as the sink, connecting to this address.
    #[arg(long, hide = true)]
    pub sink: Option<std::net::SocketAddr>,
}

/// Why the measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum FloorError {
    /// Socket or process error.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The error.
        source: io::Error,
    },
    /// The sink did not open every connection in time.
    #[error("sink connected {accepted} of {wanted} sockets")]
    Incomplete {
        /// Connections accepted.
        accepted: usize,
        /// Connections asked for.
        wanted: usize,
    },
}

/// How long the sink may take to open all its connections.
const ACCEPT_DEADLINE: Duration = Duration::from_secs(60);

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> FloorError {
    move |source| FloorError::Io { what, source }
}

/// Result of a floor measurement; serialised as the JSON line.
#[derive(Debug, Clone, Serialize)]
pub struct FloorReport {
    /// Sockets written per round.
    pub clients: usize,
    /// Frame size on the wire, bytes.
    pub frame_bytes: usize,
    /// Rounds timed.
    pub rounds: usize,
    /// Fastest round, µs.
    pub round_min_us: f64,
    /// Median round, µs.
    pub round_p50_us: f64,
    /// Slowest round, µs.
    pub round_max_us: f64,
    /// Median round / clients, µs per send.
    pub per_send_us: f64,
    /// Sender CPU (user + sys) per send, µs.
    pub cpu_per_send_us: f64,
    /// Writes that were short or would block (should be 0).
    pub short_writes: u64,
}

impl FloorReport {
    /// Human summary line.
    pub fn human(&self) -> String {
        format!(
            "sendfloor: {} sockets × {} B frame, {} rounds: round min {:.0} / p50 {:.0} / max {:.0} µs, {:.2} µs per send (CPU {:.2} µs/send), short writes {}\n",
            self.clients, self.frame_bytes, self.rounds, self.round_min_us, self.round_p50_us, self.round_max_us, self.per_send_us, self.cpu_per_send_us, self.short_writes
        )
    }
}

/// A WebSocket text frame as the server would send it (unmasked), with a
/// JSON-looking payload of `len` bytes.
pub fn frame(len: usize) -> Vec<u8> {
    let mut out = vec![0x81];
    match len {
        0..=125 => out.push(len as u8),
        126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    let body = b"{\"symbol\":\"FPT\",\"last\":131000,\"totalVolume\":1523400},";
    out.extend(body.iter().cycle().take(len));
    out
}

fn spawn_sink(config: &Config, addr: std::net::SocketAddr) -> Result<Child, FloorError> {
    let exe = std::env::current_exe().map_err(io_err("locating own executable"))?;
    let mut cmd = Command::new(exe);
    cmd.arg("--sink")
        .arg(addr.to_string())
        .arg("--clients")
        .arg(config.clients.to_string());
    if let Some(cpu) = config.sink_cpu {
        cmd.arg("--sink-cpu").arg(cpu.to_string());
    }
    cmd.spawn().map_err(io_err("spawning the sink"))
}

/// Writes `frame` once to every socket; returns short/blocked writes.
fn write_round(socks: &mut [TcpStream], frame: &[u8]) -> u64 {
    let mut short = 0;
    for s in socks.iter_mut() {
        match s.write(frame) {
            Ok(n) if n == frame.len() => {}
            _ => short += 1,
        }
    }
    short
}

/// A listener on 127.0.0.1, port 0, with a backlog deep enough for the
/// sink's burst of connects (std's default of 128 drops SYNs, and a
/// dropped SYN costs the sink seconds of retransmission back-off).
fn listen_loopback() -> io::Result<TcpListener> {
    use nix::sys::socket::{
        bind, listen, socket, AddressFamily, Backlog, SockFlag, SockType, SockaddrIn,
    };
    let fd = socket(
        AddressFamily::Inet,
        SockType::Stream,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0))?;
    listen(&fd, Backlog::new(4096)?)?;
    Ok(TcpListener::from(fd))
}

/// Runs the sender side: accept, time the rounds, stop the sink.
pub fn run(config: &Config) -> Result<FloorReport, FloorError> {
    let _ = crate::loadgen::limits::raise_nofile();
    let listener = listen_loopback().map_err(io_err("listening"))?;
    let addr = listener.local_addr().map_err(io_err("local address"))?;
    let mut child = spawn_sink(config, addr)?;
    let result = measure(config, &listener, &mut child);
    let _ = child.kill();
    let _ = child.wait();
    result
}

/// Accepts the sink's connections, giving up at [`ACCEPT_DEADLINE`] or
/// when the sink exits early (e.g. it ran out of ports).
fn accept_all(
    config: &Config,
    listener: &TcpListener,
    child: &mut Child,
) -> Result<Vec<TcpStream>, FloorError> {
    listener
        .set_nonblocking(true)
        .map_err(io_err("O_NONBLOCK"))?;
    let deadline = Instant::now() + ACCEPT_DEADLINE;
    let mut socks = Vec::with_capacity(config.clients);
    while socks.len() < config.clients {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nodelay(true).map_err(io_err("TCP_NODELAY"))?;
                s.set_nonblocking(true).map_err(io_err("O_NONBLOCK"))?;
                socks.push(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                let gone = child
                    .try_wait()
                    .map_err(io_err("polling the sink"))?
                    .is_some();
                if gone || Instant::now() > deadline {
                    return Err(FloorError::Incomplete {
                        accepted: socks.len(),
                        wanted: config.clients,
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => return Err(io_err("accepting")(e)),
        }
    }
    Ok(socks)
}

fn measure(
    config: &Config,
    listener: &TcpListener,
    child: &mut Child,
) -> Result<FloorReport, FloorError> {
    let mut socks = accept_all(config, listener, child)?;
    let frame = frame(config.frame_bytes);
    // One untimed round warms caches and the sockets' buffers.
    let mut short = write_round(&mut socks, &frame);
    std::thread::sleep(config.interval);
    short = short.saturating_sub(short);
    let mut rounds_us = Vec::with_capacity(config.rounds);
    let mut cpu_s = 0.0;
    for _ in 0..config.rounds {
        let cpu0 = procfs::sample(std::process::id())
            .map(|s| s.cpu_s)
            .unwrap_or(0.0);
        let t0 = Instant::now();
        short += write_round(&mut socks, &frame);
        rounds_us.push(t0.elapsed().as_secs_f64() * 1e6);
        let cpu1 = procfs::sample(std::process::id())
            .map(|s| s.cpu_s)
            .unwrap_or(0.0);
        cpu_s += cpu1 - cpu0;
        std::thread::sleep(config.interval);
    }
    rounds_us.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        rounds_us
            .get(((rounds_us.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let sends = (config.rounds * config.clients).max(1) as f64;
    let p50 = pick(0.5);
    Ok(FloorReport {
        clients: config.clients,
        frame_bytes: frame.len(),
        rounds: config.rounds,
        round_min_us: pick(0.0).round(),
        round_p50_us: p50.round(),
        round_max_us: pick(1.0).round(),
        per_send_us: (p50 / config.clients.max(1) as f64 * 100.0).round() / 100.0,
        cpu_per_send_us: (cpu_s * 1e6 / sends * 100.0).round() / 100.0,
        short_writes: short,
    })
}
