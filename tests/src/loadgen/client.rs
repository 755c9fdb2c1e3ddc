//! One load-generator client: connect from a chosen source address, upgrade,
//! then read frames with kernel timestamps until the run ends.
//!
//! All clients run on one current-thread runtime and share one receive
//! buffer, so an idle client costs its socket, a small task and whatever
//! partial frame it is holding.

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use nix::sys::socket::{setsockopt, sockopt};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use super::conn::{Conn, RxTime};
use super::deflate;
use super::handshake;
use super::recv;
use super::stats::Stats;

/// Size of the receive buffer shared by all clients of the thread.
const SHARED_BUF: usize = 256 * 1024;
/// Reads per wake-up before yielding to other clients.
const READS_PER_WAKE: usize = 4;

thread_local! {
    static RX_BUF: RefCell<(Vec<u8>, Vec<u8>)> =
        RefCell::new((vec![0u8; SHARED_BUF], recv::cmsg_buffer()));
}

/// What one client is to do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Client number, also the masking seed.
    pub index: u64,
    /// Server address.
    pub server: SocketAddr,
    /// `Host` header value.
    pub host: Rc<str>,
    /// Request path, e.g. `/ws/market`.
    pub path: Rc<str>,
    /// Local address to bind before connecting.
    pub source: IpAddr,
    /// Never read after the upgrade (a stalled client).
    pub stalled: bool,
    /// Limit for connect + upgrade.
    pub connect_timeout: Duration,
    /// Largest frame accepted.
    pub max_payload: usize,
    /// The `Sec-WebSocket-Protocol` to offer.
    pub subprotocol: Option<Rc<str>>,
    /// Offer permessage-deflate and require it.
    pub deflate: bool,
    /// A `subscribe` message to send after the upgrade.
    pub subscribe: Option<Rc<[u8]>>,
}

async fn connect(plan: &Plan) -> io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    // Pick the port at connect time from the full 4-tuple, so each source
    // address gets its own ephemeral port range.
    setsockopt(&socket, sockopt::IpBindAddressNoPort, &true).map_err(io::Error::from)?;
    socket.bind(SocketAddr::new(plan.source, 0))?;
    let stream = socket.connect(plan.server).await?;
    stream.set_nodelay(true)?;
    recv::enable_timestamps(&stream)?;
    Ok(stream)
}

async fn open(plan: &Plan) -> Result<(TcpStream, Vec<u8>), String> {
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&plan.index.to_be_bytes());
    key[8..].copy_from_slice(&recv::now_ns().to_be_bytes());
    let attempt = async {
        let mut stream = connect(plan).await.map_err(|e| format!("connect: {e}"))?;
        let extra = if plan.deflate { deflate::OFFER } else { "" };
        let (rest, head) = handshake::upgrade_with(
            &mut stream,
            &plan.host,
            &plan.path,
            key,
            plan.subprotocol.as_deref(),
            extra,
        )
        .await
        .map_err(|e| e.to_string())?;
        if plan.deflate && !deflate::accepted(&head) {
            return Err("permessage-deflate offer declined".to_owned());
        }
        Ok((stream, rest))
    };
    tokio::time::timeout(plan.connect_timeout, attempt)
        .await
        .map_err(|_| "connect + upgrade timed out".to_owned())?
}

/// Runs one client until its connection ends (or forever; the run ends by
/// dropping the runtime).
pub async fn run(plan: Plan, stats: Rc<RefCell<Stats>>) {
    let (mut stream, early) = match open(&plan).await {
        Ok(ok) => ok,
        Err(why) => {
            stats
                .borrow_mut()
                .record_connect_failure(format!("{}: {why}", plan.source));
            return;
        }
    };
    if plan.stalled {
        stats.borrow_mut().connected_stalled += 1;
        // Hold the socket open and never read it.
        std::future::pending::<()>().await;
        return;
    }
    stats.borrow_mut().connected += 1;
    let mut conn = Conn::new(plan.index, plan.max_payload).with_deflate(plan.deflate);
    if let Some(subscribe) = &plan.subscribe {
        conn.send_text(subscribe);
    }
    let at = RxTime {
        kernel_ns: None,
        user_ns: recv::now_ns(),
    };
    let mut result = conn
        .feed(&early, at, &mut stats.borrow_mut())
        .map_err(|e| e.to_string());
    while result.is_ok() && !conn.closed {
        if !conn.outgoing.is_empty() {
            let out = std::mem::take(&mut conn.outgoing);
            if let Err(e) = stream.write_all(&out).await {
                result = Err(format!("write: {e}"));
                break;
            }
        }
        if let Err(e) = stream.readable().await {
            result = Err(format!("readable: {e}"));
            break;
        }
        result = RX_BUF.with(|cell| {
            let mut guard = cell.borrow_mut();
            let (buf, cmsg) = &mut *guard;
            read_available(&stream, buf, cmsg, &mut conn, &stats)
        });
    }
    if !conn.outgoing.is_empty() {
        // Best effort: echo the close frame.
        let _ = stream.try_write(&conn.outgoing);
    }
    let why = match result {
        Ok(()) if conn.closed => "server sent close".to_owned(),
        Ok(()) => "ended".to_owned(),
        Err(e) => e,
    };
    stats.borrow_mut().record_disconnect(why);
}

/// Reads what the socket has (a few reads at most) and feeds it to `conn`.
fn read_available(
    stream: &TcpStream,
    buf: &mut [u8],
    cmsg: &mut [u8],
    conn: &mut Conn,
    stats: &RefCell<Stats>,
) -> Result<(), String> {
    for _ in 0..READS_PER_WAKE {
        match recv::try_recv(stream, buf, cmsg) {
            Ok(r) if r.len == 0 => return Err("server closed the connection".to_owned()),
            Ok(r) => {
                stats.borrow_mut().record_read(r.len);
                let at = RxTime {
                    kernel_ns: r.kernel_ns,
                    user_ns: r.user_ns,
                };
                conn.feed(&buf[..r.len], at, &mut stats.borrow_mut())
                    .map_err(|e| e.to_string())?;
                if conn.closed || r.len < buf.len() {
                    return Ok(());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(format!("recv: {e}")),
        }
    }
    Ok(())
}
