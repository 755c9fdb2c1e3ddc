//! What the kernel may hold for a client that stops reading: at most
//! 256 KiB of send queue each (read from `/proc/net/tcp`, the server
//! side's `tx_queue`, the figure `SIOCOUTQ` and `ss -tm` report), so the
//! slow-client policy, not the kernel, decides what a stalled client sees:
//! when it resumes it reaches the newest snapshot after at most that much
//! stale data, the skipped ticks show as a seq jump and count as drops;
//! a reader at half the tick rate stays current with gaps and stays
//! connected; a healthy client misses nothing meanwhile.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use marketfeed_protocol::{decode_server, ServerMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::protocol::Role;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The bound the issue sets per stalled client.
const MAX_SEND_QUEUE: u64 = 256 * 1024;
/// What a stalled client asks of its own receive buffer (the kernel
/// doubles it); small, so the server's side is what holds the backlog.
const CLIENT_RCVBUF: u32 = 4096;
const TICK: Duration = Duration::from_millis(100);

/// A WebSocket client whose receive buffer is set small before the
/// connection exists (so the window it advertises is small from the
/// start), upgraded by hand and not read from afterwards.
async fn small_window_connect(addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(CLIENT_RCVBUF).unwrap();
    let mut s = socket.connect(addr).await.unwrap();
    s.write_all(
        b"GET /ws/market HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .await
    .unwrap();
    // Byte by byte, so nothing after the head is consumed here.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        timeout(WAIT, s.read_exact(&mut byte))
            .await
            .unwrap()
            .unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    s
}

/// The server side's unacknowledged + unsent bytes per established
/// connection on `server_port`, keyed by the client's port
/// (`/proc/net/tcp`'s `tx_queue`, which is `SIOCOUTQ`).
fn send_queues(server_port: u16) -> HashMap<u16, u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let mut out = HashMap::new();
    for line in table.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let port =
            |field: &str| u16::from_str_radix(field.rsplit(':').next().unwrap(), 16).unwrap();
        if f.len() < 5 || f[3] != "01" || port(f[1]) != server_port {
            continue;
        }
        let tx = u64::from_str_radix(f[4].split(':').next().unwrap(), 16).unwrap();
        out.insert(port(f[2]), tx);
    }
    out
}

/// A healthy client reading everything in the background; returns how
/// many snapshots it got and the size of every gap it saw.
/// The newest seq it saw is kept in `newest`.
fn healthy_reader(
    mut ws: Ws,
    stop: Arc<AtomicBool>,
    newest: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<(u64, Vec<u64>)> {
    tokio::spawn(async move {
        let mut prev = skip_greeting(&mut ws).await.seq;
        let mut received = 0;
        let mut gaps = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let snap = next_snapshot(&mut ws).await;
            if snap.seq != prev + 1 {
                gaps.push(snap.seq - prev - 1);
            }
            prev = snap.seq;
            newest.store(prev, Ordering::Relaxed);
            received += 1;
        }
        (received, gaps)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_clients_hold_at_most_256_kib_of_kernel_send_queue() {
    let mut config = config();
    config.tick_interval = TICK;
    let server = start(config).await;
    let addr = server.local_addr();

    let stop = Arc::new(AtomicBool::new(false));
    let newest = Arc::new(AtomicU64::new(0));
    let healthy = healthy_reader(connect(addr).await, stop.clone(), newest.clone());

    let mut stalled = Vec::new();
    for _ in 0..20 {
        stalled.push(small_window_connect(addr).await);
    }
    let ports: Vec<u16> = stalled
        .iter()
        .map(|s| s.local_addr().unwrap().port())
        .collect();

    // 8 s at 10 Hz: about a megabyte of snapshots offered to each stalled
    // client, four times the bound. Sample the queues all along.
    let mut peak: HashMap<u16, u64> = HashMap::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < until {
        for (port, q) in send_queues(addr.port()) {
            let p = peak.entry(port).or_default();
            *p = (*p).max(q);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let queued: Vec<u64> = ports.iter().map(|p| peak[p]).collect();
    let total: u64 = queued.iter().sum();
    eprintln!(
        "peak send queue per stalled client (bytes): {queued:?}; all 20: {} KiB",
        total / 1024
    );
    for (port, q) in ports.iter().zip(&queued) {
        assert!(
            *q <= MAX_SEND_QUEUE,
            "stalled client :{port} holds {q} bytes of kernel send queue (> {MAX_SEND_QUEUE})"
        );
    }
    let before = server.stats();
    assert!(
        before.dropped >= 20,
        "the policy must have dropped for every stalled client: {before:?}"
    );

    // One stalled client resumes: it gets what the kernels held, then the
    // newest snapshot, with the skipped ticks as one jump.
    let newest_at_resume = newest.load(Ordering::Relaxed);
    let resumed = stalled.pop().unwrap();
    let mut ws = WebSocketStream::from_raw_socket(resumed, Role::Client, None).await;
    let mut stale_bytes = 0usize;
    let mut seqs = Vec::new();
    let caught_up = loop {
        let msg = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        let Message::Text(text) = msg else { continue };
        match decode_server(text.as_bytes()).unwrap() {
            ServerMessage::Snapshot(s) => {
                seqs.push(s.seq);
                if s.seq >= newest_at_resume {
                    break s.seq;
                }
                stale_bytes += text.len();
            }
            _ => continue,
        }
    };
    eprintln!(
        "resumed: {} stale snapshots ({stale_bytes} bytes) before seq {caught_up} (newest at resume {newest_at_resume}); seqs {seqs:?}",
        seqs.len() - 1
    );
    assert!(
        stale_bytes as u64 <= MAX_SEND_QUEUE + 2 * u64::from(CLIENT_RCVBUF),
        "{stale_bytes} bytes of stale snapshots before the newest"
    );
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "seq must only grow: {seqs:?}"
    );
    let jump = seqs.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    assert!(
        jump > 1,
        "the resumed client's gap must show as a seq jump: {seqs:?}"
    );

    stop.store(true, Ordering::Relaxed);
    let (received, gaps) = timeout(WAIT, healthy).await.unwrap().unwrap();
    assert!(received >= 70, "healthy client got {received} snapshots");
    assert!(gaps.is_empty(), "healthy client missed ticks: {gaps:?}");
    drop(stalled);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_at_half_the_tick_rate_stays_current_with_gaps_and_connected() {
    let mut config = config();
    config.tick_interval = TICK;
    let server = start(config).await;
    let addr = server.local_addr();

    let stop = Arc::new(AtomicBool::new(false));
    let newest = Arc::new(AtomicU64::new(0));
    let healthy = healthy_reader(connect(addr).await, stop.clone(), newest.clone());

    let slow = small_window_connect(addr).await;
    let mut ws = WebSocketStream::from_raw_socket(slow, Role::Client, None).await;
    let mut seqs = Vec::new();
    let mut lags = Vec::new();
    let mut frame_len = 1;
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < until {
        let msg = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
        let Message::Text(text) = msg else { continue };
        if let ServerMessage::Snapshot(s) = decode_server(text.as_bytes()).unwrap() {
            lags.push(newest.load(Ordering::Relaxed).saturating_sub(s.seq));
            frame_len = frame_len.max(text.len() as u64);
            seqs.push(s.seq);
            // One snapshot read per two ticks.
            tokio::time::sleep(2 * TICK).await;
        }
    }
    eprintln!("half-rate reader: seqs {seqs:?}; lag behind the newest (ticks) {lags:?}; frame {frame_len} B");
    assert!(
        seqs.windows(2).all(|w| w[1] > w[0]),
        "seq must only grow: {seqs:?}"
    );
    assert!(
        seqs.windows(2).any(|w| w[1] - w[0] > 1),
        "the skipped ticks must show as gaps: {seqs:?}"
    );
    // What the kernels may hold, in snapshots, plus the one being read and
    // one tick of slack: the lag stays there instead of growing with time.
    let bound = (MAX_SEND_QUEUE + 2 * u64::from(CLIENT_RCVBUF)) / frame_len + 2;
    let late = &lags[lags.len() / 2..];
    assert!(
        late.iter().all(|l| *l <= bound),
        "the half-rate reader fell behind by more than {bound} ticks: {lags:?}"
    );
    assert!(
        server.stats().dropped > 0,
        "the skipped ticks are counted as drops"
    );
    // Still connected and served.
    let msg = timeout(WAIT, ws.next()).await.unwrap().unwrap().unwrap();
    assert!(!matches!(msg, Message::Close(_)), "evicted: {msg:?}");
    assert_eq!(server.stats().clients, 2);

    stop.store(true, Ordering::Relaxed);
    let (_, gaps) = timeout(WAIT, healthy).await.unwrap().unwrap();
    assert!(gaps.is_empty(), "healthy client missed ticks: {gaps:?}");
    server.shutdown().await;
}
