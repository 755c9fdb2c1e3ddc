//! Reading a socket together with the kernel's receive timestamp.
//!
//! With `SO_TIMESTAMPNS` enabled, every `recvmsg` on a TCP socket carries an
//! `SCM_TIMESTAMPNS` control message: the `CLOCK_REALTIME` time at which the
//! kernel received the most recent segment returned by this read. That is
//! when the data was available, however late the load generator got round
//! to reading it.

use std::io::{self, IoSliceMut};
use std::os::fd::AsRawFd;
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};
use nix::sys::time::TimeSpec;
use tokio::io::Interest;
use tokio::net::TcpStream;

/// One successful read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read {
    /// Bytes read; 0 means the peer closed the connection.
    pub len: usize,
    /// Kernel receive time, unix nanoseconds, if the kernel supplied one.
    pub kernel_ns: Option<u64>,
    /// User-space time right after `recvmsg` returned, unix nanoseconds.
    pub user_ns: u64,
}

/// Asks the kernel to timestamp received data on `stream`.
pub fn enable_timestamps(stream: &TcpStream) -> io::Result<()> {
    setsockopt(stream, sockopt::ReceiveTimestampns, &true).map_err(io::Error::from)
}

/// Current `CLOCK_REALTIME`, unix nanoseconds.
pub fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

fn timespec_ns(ts: &TimeSpec) -> Option<u64> {
    let secs = u64::try_from(ts.tv_sec()).ok()?;
    let nanos = u64::try_from(ts.tv_nsec()).ok()?;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// One non-blocking `recvmsg` into `buf`.
fn recv_once(stream: &TcpStream, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<Read> {
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(cmsg),
        MsgFlags::MSG_DONTWAIT,
    )
    .map_err(io::Error::from)?;
    let user_ns = now_ns();
    let kernel_ns = msg.cmsgs().ok().and_then(|mut it| {
        it.find_map(|c| match c {
            ControlMessageOwned::ScmTimestampns(ts) => timespec_ns(&ts),
            _ => None,
        })
    });
    Ok(Read {
        len: msg.bytes,
        kernel_ns,
        user_ns,
    })
}

/// Reusable control-message space for one `SCM_TIMESTAMPNS`.
pub fn cmsg_buffer() -> Vec<u8> {
    nix::cmsg_space!(TimeSpec)
}

/// Reads into `buf` if `stream` has data, without waiting.
///
/// Returns `WouldBlock` when it has none; tokio then clears the readiness
/// so the next `stream.readable().await` waits for new data.
pub fn try_recv(stream: &TcpStream, buf: &mut [u8], cmsg: &mut [u8]) -> io::Result<Read> {
    stream.try_io(Interest::READABLE, || recv_once(stream, buf, cmsg))
}
