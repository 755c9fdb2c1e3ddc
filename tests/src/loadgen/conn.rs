//! The per-connection protocol state: reassembly of frames split across
//! reads, fragment joining, pongs, `seq` gap tracking.
//!
//! Kept free of sockets so it can be fed byte slices in tests.

use super::frame::{self, Frame, FrameError, MaskSource};
use super::scan::{scan, scan_binary, Scanned};
use super::stats::Stats;

/// When a chunk of bytes was received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxTime {
    /// Kernel receive time, unix ns, when known.
    pub kernel_ns: Option<u64>,
    /// User-space receive time, unix ns.
    pub user_ns: u64,
}

/// Why a connection had to be dropped.
#[derive(Debug, thiserror::Error)]
pub enum ConnError {
    /// The byte stream is not valid WebSocket framing.
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// An opcode RFC 6455 does not define, or a continuation out of place.
    #[error("unexpected opcode {0:#x}")]
    Opcode(u8),
    /// A compressed message that does not inflate.
    #[error("permessage-deflate: {0}")]
    Inflate(#[from] super::deflate::InflateError),
}

/// State of one client connection.
#[derive(Debug)]
pub struct Conn {
    /// Bytes of an incomplete frame carried over to the next read (empty,
    /// with no allocation, between whole frames).
    pending: Vec<u8>,
    /// A fragmented message being joined.
    fragments: Option<Vec<u8>>,
    /// Whether the message being joined is binary.
    binary: bool,
    /// permessage-deflate was negotiated: RSV1 marks a compressed message.
    deflate: bool,
    /// The message being joined is compressed.
    compressed: bool,
    /// Wire bytes of the message being joined, headers included.
    wire: usize,
    /// Last snapshot `seq` seen.
    last_seq: Option<u64>,
    had_gap: bool,
    masks: MaskSource,
    max_payload: usize,
    /// Masked frames to send back (pongs, close echo).
    pub outgoing: Vec<u8>,
    /// Whether the server sent a close frame.
    pub closed: bool,
}

impl Conn {
    /// A fresh connection state.
    pub fn new(mask_seed: u64, max_payload: usize) -> Self {
        Self {
            pending: Vec::new(),
            fragments: None,
            binary: false,
            deflate: false,
            compressed: false,
            wire: 0,
            last_seq: None,
            had_gap: false,
            masks: MaskSource::new(mask_seed),
            max_payload,
            outgoing: Vec::new(),
            closed: false,
        }
    }

    /// With `on`, permessage-deflate was negotiated: compressed messages
    /// (RSV1) are inflated before they are parsed.
    pub fn with_deflate(mut self, on: bool) -> Self {
        self.deflate = on;
        self
    }

    /// Consumes bytes read from the socket at `at`.
    pub fn feed(&mut self, data: &[u8], at: RxTime, stats: &mut Stats) -> Result<(), ConnError> {
        if self.pending.is_empty() {
            let used = self.consume(data, at, stats)?;
            if let Some(rest) = data.get(used..).filter(|r| !r.is_empty()) {
                self.pending.extend_from_slice(rest);
            }
        } else {
            let mut buf = std::mem::take(&mut self.pending);
            buf.extend_from_slice(data);
            let used = self.consume(&buf, at, stats)?;
            buf.drain(..used);
            if !buf.is_empty() {
                self.pending = buf;
            }
        }
        Ok(())
    }

    fn consume(&mut self, buf: &[u8], at: RxTime, stats: &mut Stats) -> Result<usize, ConnError> {
        let mut off = 0;
        while let Some((f, used, rsv1)) =
            frame::parse_ext(&buf[off..], self.max_payload, self.deflate)?
        {
            off += used;
            if matches!(f.opcode, frame::OP_TEXT | frame::OP_BINARY) {
                self.compressed = rsv1;
                self.wire = 0;
            } else if rsv1 {
                // RSV1 belongs on the first frame of a data message only.
                return Err(FrameError::Reserved.into());
            }
            if !frame::is_control(f.opcode) {
                self.wire += used;
            }
            self.on_frame(f, at, stats)?;
            if self.closed {
                break;
            }
        }
        Ok(off)
    }

    fn on_frame(&mut self, f: Frame<'_>, at: RxTime, stats: &mut Stats) -> Result<(), ConnError> {
        match f.opcode {
            frame::OP_TEXT | frame::OP_BINARY if self.fragments.is_none() => {
                if f.fin {
                    self.on_message(f.payload, f.opcode == frame::OP_BINARY, at, stats)?;
                } else {
                    self.binary = f.opcode == frame::OP_BINARY;
                    self.fragments = Some(f.payload.to_vec());
                }
            }
            frame::OP_CONTINUATION => {
                let mut joined = self.fragments.take().ok_or(ConnError::Opcode(f.opcode))?;
                joined.extend_from_slice(f.payload);
                if f.fin {
                    self.on_message(&joined, self.binary, at, stats)?;
                } else {
                    self.fragments = Some(joined);
                }
            }
            frame::OP_PING => {
                self.send(frame::OP_PONG, f.payload);
                stats.pongs_sent += 1;
            }
            frame::OP_PONG => {}
            frame::OP_CLOSE => {
                self.send(frame::OP_CLOSE, f.payload.get(..2).unwrap_or_default());
                self.closed = true;
            }
            other => return Err(ConnError::Opcode(other)),
        }
        Ok(())
    }

    fn on_message(
        &mut self,
        msg: &[u8],
        binary: bool,
        at: RxTime,
        stats: &mut Stats,
    ) -> Result<(), ConnError> {
        let wire = std::mem::take(&mut self.wire);
        if std::mem::take(&mut self.compressed) {
            stats.compressed_msgs += 1;
            let max = self.max_payload;
            super::deflate::with_inflated(msg, max, |plain| {
                self.on_plain(plain, binary, wire, at, stats)
            })?;
        } else {
            self.on_plain(msg, binary, wire, at, stats);
        }
        Ok(())
    }

    fn on_plain(&mut self, msg: &[u8], binary: bool, wire: usize, at: RxTime, stats: &mut Stats) {
        let scanned = if binary { scan_binary(msg) } else { scan(msg) };
        match scanned {
            Scanned::Snapshot { seq, ts } => {
                if binary && stats.measuring {
                    stats.window_binary_msgs += 1;
                }
                let catch_up = self.last_seq.is_none();
                if let Some(last) = self.last_seq {
                    if seq > last + 1 {
                        stats.record_gap(seq - last - 1, !self.had_gap);
                        self.had_gap = true;
                    } else if seq == last {
                        // A keyframe restating the tick held (the answer to
                        // a subscription change or a resync).
                        stats.restated += 1;
                    } else if seq < last {
                        stats.reordered += 1;
                    }
                }
                self.last_seq = Some(self.last_seq.map_or(seq, |l| l.max(seq)));
                stats.record_snapshot(msg.len(), ts, seq, at.kernel_ns, at.user_ns, catch_up);
                stats.record_wire(wire, catch_up);
            }
            Scanned::Hello => {
                stats.hellos += 1;
                if stats.tick_interval_ms.is_none() {
                    if let Ok(marketfeed_protocol::ServerMessage::Hello(h)) =
                        marketfeed_protocol::decode_server(msg)
                    {
                        stats.tick_interval_ms = Some(h.tick_interval_ms);
                    }
                }
            }
            Scanned::Subscribed => stats.subscribed += 1,
            Scanned::Error => stats.server_errors += 1,
            Scanned::Other => {}
            Scanned::Invalid => stats.invalid_msgs += 1,
        }
    }

    /// Queues a text message to the server.
    pub fn send_text(&mut self, payload: &[u8]) {
        self.send(frame::OP_TEXT, payload);
    }

    /// Queues one frame to the server, masked as a client must.
    fn send(&mut self, opcode: u8, payload: &[u8]) {
        let mask = self.masks.next_mask();
        self.outgoing
            .extend(frame::build_masked(opcode, payload, mask));
    }

    /// Bytes currently buffered for an incomplete frame.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_frame(opcode: u8, fin: bool, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![if fin { 0x80 } else { 0 } | opcode];
        if payload.len() < 126 {
            out.push(payload.len() as u8);
        } else {
            out.push(126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        out.extend_from_slice(payload);
        out
    }

    fn snap(seq: u64) -> Vec<u8> {
        let body = format!(
            "{{\"type\":\"snapshot\",\"seq\":{seq},\"ts\":1000,\"pad\":\"{}\"}}",
            "x".repeat(300)
        );
        server_frame(frame::OP_TEXT, true, body.as_bytes())
    }

    const AT: RxTime = RxTime {
        kernel_ns: Some(2_000_000),
        user_ns: 3_000_000,
    };

    #[test]
    fn split_reads_gaps_and_pings() {
        let mut stats = Stats {
            measuring: true,
            ..Stats::default()
        };
        let mut c = Conn::new(7, 1 << 20);
        let mut wire = snap(1);
        wire.extend(snap(2));
        wire.extend(server_frame(frame::OP_PING, true, b"hb"));
        wire.extend(snap(5));
        // Feed in awkward chunks.
        for chunk in wire.chunks(7) {
            c.feed(chunk, AT, &mut stats).expect("valid stream");
        }
        assert_eq!(c.pending_len(), 0);
        assert_eq!(stats.total_msgs, 3);
        assert_eq!(stats.window_msgs, 2, "first snapshot is catch-up");
        assert_eq!(
            (stats.gaps, stats.gap_events, stats.clients_with_gaps),
            (2, 1, 1)
        );
        assert_eq!(stats.pongs_sent, 1);
        assert_eq!(c.outgoing[0], 0x8A);
        assert_eq!(c.outgoing[1], 0x82);
    }

    #[test]
    fn fragments_and_close() {
        let mut stats = Stats::default();
        let mut c = Conn::new(1, 1 << 20);
        let body = b"{\"type\":\"snapshot\",\"seq\":9,\"ts\":5}";
        let mut wire = server_frame(frame::OP_TEXT, false, &body[..10]);
        wire.extend(server_frame(frame::OP_CONTINUATION, true, &body[10..]));
        wire.extend(server_frame(frame::OP_CLOSE, true, &[0x03, 0xe9]));
        c.feed(&wire, AT, &mut stats).expect("valid stream");
        assert_eq!(stats.total_msgs, 1);
        assert!(c.closed);
    }
}
