//! Incremental, strict parser of client → server frames (RFC 6455 §5).
//!
//! The session reads the socket into a small stack buffer, hands the bytes to
//! [`FrameReader::extend`] and drains [`FrameReader::next_event`] until it
//! returns `Ok(None)`. Every header is checked as soon as its bytes are
//! present, before any of its payload is buffered, so a peer announcing a
//! huge frame is refused (1009) without the server allocating for it.
//!
//! Memory: an idle reader owns no heap allocation. Buffers grow only with
//! bytes actually received and are released once they are drained, so ten
//! thousand idle clients cost nothing here.
//!
//! permessage-deflate ([`FrameReader::inflating`]): on a connection that
//! negotiated it, a data message whose first frame has RSV1 set is
//! compressed. Its fragments are joined as they arrive, as for any
//! message, bounded on the wire by the limit plus deflate's worst-case
//! overhead ([`compressed_limit`]); the final fragment inflates the whole
//! ([`super::deflate::inflate`]) with the message limit applied to the
//! *inflated* size while inflating: the first byte past it fails the
//! message (1009), so a decompression bomb costs at most the limit in
//! output, and a half-received compressed message holds no inflate state.
//! (Its UTF-8 is checked once inflated, not fragment by fragment.) Without the extension RSV1 stays a
//! protocol error (1002), as do RSV1 on a control or continuation frame
//! and RSV2/RSV3 always.
//!
//! After an error, or once the server has sent its own Close
//! ([`FrameReader::start_closing`]), the reader only drains: it follows
//! frame boundaries by their announced lengths, skips every payload
//! without buffering it (the rest of an oversized frame included) and
//! yields nothing but the peer's [`Incoming::Close`], so the closing
//! handshake can complete. After a Close, or a length it cannot follow,
//! the reader is done: it drops its buffers, ignores further input and
//! yields `Ok(None)`.

use bytes::{Buf, Bytes, BytesMut};
use marketfeed_protocol::CloseCode;

use super::deflate::{self, InflateError};
use super::frame::{OpCode, FIN_BIT, LEN_16, LEN_64, MASK_BIT, MAX_CONTROL_PAYLOAD, RSV1_BIT};

/// Bits RSV1–3 of the first header byte; only RSV1 has a meaning, and only
/// with permessage-deflate.
const RSV_BITS: u8 = 0x70;

/// Largest compressed size, on the wire, of a message whose inflated size
/// may be `max`: DEFLATE's stored blocks add 5 bytes per 65,535, the sync
/// flush a few more; 1/64 plus 64 bytes covers both with room to spare.
pub fn compressed_limit(max: usize) -> usize {
    max.saturating_add(max / 64).saturating_add(64)
}

/// Above this capacity a partly drained buffer is compacted to its content.
const SHRINK_THRESHOLD: usize = 4 * 1024;

/// One complete event from the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A complete text message; the bytes are valid UTF-8.
    Text(Bytes),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping; answer with [`super::frame::pong`] carrying the same payload.
    Ping(Bytes),
    /// A pong (reply to a server ping).
    Pong(Bytes),
    /// The client started the closing handshake, with its code and reason
    /// when the frame carried them. Echo a close frame, then shut down.
    Close(Option<(u16, String)>),
}

/// A protocol violation by the client; the connection must be closed with
/// [`ReadError::close_code`] (see [`ReadError::close_frame`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// A client frame without the mask bit.
    #[error("client frame is not masked")]
    Unmasked,
    /// RSV1–3 set while no extension was negotiated.
    #[error("reserved bits set")]
    ReservedBits,
    /// A reserved opcode.
    #[error("unknown opcode {0:#x}")]
    UnknownOpcode(u8),
    /// A close, ping or pong frame without FIN.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload.
    #[error("control frame payload over 125 bytes")]
    ControlTooLong,
    /// A 64-bit length with its most significant bit set.
    #[error("payload length has its top bit set")]
    LengthOverflow,
    /// A length not encoded in the shortest form (RFC 6455 §5.2).
    #[error("payload length not minimally encoded")]
    NonMinimalLength,
    /// A continuation frame while no fragmented message is open.
    #[error("continuation frame without a started message")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is open.
    #[error("new data frame inside a fragmented message")]
    ExpectedContinuation,
    /// The message (all fragments together) exceeds the configured limit.
    #[error("message of at least {size} bytes exceeds the {max} byte limit")]
    MessageTooBig {
        /// Message size known so far, counting the announced frame.
        size: u64,
        /// The configured limit.
        max: usize,
    },
    /// A text message that is not valid UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A close frame with a 1-byte payload.
    #[error("close frame payload of 1 byte")]
    InvalidClosePayload,
    /// A close code a peer may not send.
    #[error("invalid close code {0}")]
    InvalidCloseCode(u16),
    /// A close reason that is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    /// A compressed message that inflates past the configured limit.
    #[error("compressed message inflates past the {max} byte limit")]
    InflatedTooBig {
        /// The configured limit.
        max: usize,
    },
    /// A compressed message that is not valid DEFLATE data.
    #[error("compressed message is not valid DEFLATE data")]
    InvalidCompressed,
}

impl From<InflateError> for ReadError {
    fn from(e: InflateError) -> Self {
        match e {
            InflateError::TooBig { max } => Self::InflatedTooBig { max },
            InflateError::Corrupt => Self::InvalidCompressed,
        }
    }
}

impl ReadError {
    /// The close code to send back for this violation.
    pub fn close_code(&self) -> u16 {
        match self {
            Self::MessageTooBig { .. } | Self::InflatedTooBig { .. } => {
                CloseCode::MESSAGE_TOO_BIG.0
            }
            Self::InvalidUtf8 | Self::InvalidCompressed => CloseCode::INVALID_PAYLOAD.0,
            _ => CloseCode::PROTOCOL_ERROR.0,
        }
    }

    /// A short, fixed reason fit for the Close frame (≤ 123 bytes, no peer
    /// data echoed back).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unmasked => "frame not masked",
            Self::ReservedBits => "reserved bits set",
            Self::UnknownOpcode(_) => "unknown opcode",
            Self::FragmentedControl => "fragmented control frame",
            Self::ControlTooLong => "control frame too long",
            Self::LengthOverflow => "invalid payload length",
            Self::NonMinimalLength => "non-minimal payload length",
            Self::UnexpectedContinuation => "unexpected continuation frame",
            Self::ExpectedContinuation => "expected continuation frame",
            Self::MessageTooBig { .. } => "message too big",
            Self::InvalidUtf8 => "invalid UTF-8 in text message",
            Self::InvalidClosePayload => "invalid close payload",
            Self::InvalidCloseCode(_) => "invalid close code",
            Self::InvalidCloseReason => "invalid close reason",
            Self::InflatedTooBig { .. } => "inflated message too big",
            Self::InvalidCompressed => "invalid compressed data",
        }
    }

    /// The encoded Close frame answering this violation.
    pub fn close_frame(&self) -> Bytes {
        super::frame::close(self.close_code(), self.reason())
    }
}

/// The kind of a data message being reassembled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataKind {
    Text,
    Binary,
}

/// A fragmented data message waiting for its final fragment.
#[derive(Debug)]
struct Partial {
    kind: DataKind,
    payload: BytesMut,
    /// Prefix of a text payload already known to be valid UTF-8; it always
    /// ends on a character boundary.
    utf8_checked: usize,
    /// RSV1 was set on the first frame: `payload` holds compressed
    /// bytes, inflated when the final fragment arrives.
    compressed: bool,
}

/// A validated frame header.
#[derive(Debug, Clone, Copy)]
struct Header {
    fin: bool,
    opcode: OpCode,
    /// RSV1 on the first frame of a message: its payload is compressed.
    compressed: bool,
    mask: [u8; 4],
    payload_len: usize,
    header_len: usize,
}

/// Incremental parser of client frames with a message size limit.
#[derive(Debug)]
pub struct FrameReader {
    max_message_size: usize,
    /// Received bytes not yet parsed into an event.
    buf: BytesMut,
    /// The fragmented message being reassembled, if any.
    partial: Option<Partial>,
    /// Largest `buf.len()` since `buf` was last replaced: a lower bound of
    /// its allocation, which split-off payloads and the unparsed tail share.
    high_water: usize,
    /// How input is parsed now.
    state: State,
    /// The peer's Close found while skipping the frame that broke a rule;
    /// reported by the next [`FrameReader::next_event`].
    held_close: Option<Incoming>,
    /// Complete non-final fragments since [`FrameReader::take_fragments`].
    fragments: u32,
    /// permessage-deflate was negotiated: RSV1 marks a compressed message.
    inflate: bool,
}

/// The parsing mode of a [`FrameReader`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Every frame is checked strictly.
    Open,
    /// After a violation or the server's Close: frames are skipped by
    /// length, only a Close is looked for. `skip` payload bytes of the
    /// current frame are still to come.
    Draining { skip: u64 },
    /// A Close arrived, or the stream cannot be followed: input is ignored.
    Done,
}

impl FrameReader {
    /// A reader accepting messages up to `max_message_size` payload bytes
    /// (all fragments together). Allocates nothing.
    pub fn new(max_message_size: usize) -> Self {
        Self {
            max_message_size,
            buf: BytesMut::new(),
            partial: None,
            high_water: 0,
            state: State::Open,
            held_close: None,
            fragments: 0,
            inflate: false,
        }
    }

    /// With `on`, the reader accepts compressed messages (RSV1 on their
    /// first frame) and inflates them, as a connection that negotiated
    /// permessage-deflate must; the message limit then bounds the
    /// inflated size. Without, RSV1 is a protocol error.
    pub fn inflating(mut self, on: bool) -> Self {
        self.inflate = on;
        self
    }

    /// Appends bytes read from the socket. Call [`Self::next_event`] until it
    /// yields `Ok(None)` after each call, so oversized frames are refused
    /// before their payload accumulates. Ignored once the reader is finished.
    pub fn extend(&mut self, mut data: &[u8]) {
        match &mut self.state {
            State::Done => return,
            State::Draining { skip } => {
                // A skipped payload never enters the buffer.
                let n = data.len().min(usize::try_from(*skip).unwrap_or(usize::MAX));
                *skip -= n as u64;
                data = &data[n..];
            }
            State::Open => {}
        }
        if !data.is_empty() {
            self.buf.extend_from_slice(data);
            self.high_water = self.high_water.max(self.buf.len());
        }
    }

    /// Stops strict parsing (the server has sent its Close): from the
    /// current frame boundary on, frames are skipped unbuffered and only
    /// the peer's Close is reported. A half-received fragmented message is
    /// dropped. No effect once draining or done.
    pub fn start_closing(&mut self) {
        if self.state == State::Open {
            self.state = State::Draining { skip: 0 };
            self.partial = None;
        }
    }

    /// The next complete event, `Ok(None)` when more bytes are needed (or
    /// the reader is finished). An error means the connection must be failed
    /// with [`ReadError::close_code`].
    pub fn next_event(&mut self) -> Result<Option<Incoming>, ReadError> {
        match self.state {
            State::Done => return Ok(None),
            State::Draining { .. } => {
                let close = self.held_close.take().or_else(|| self.drain());
                if close.is_some() {
                    self.finish();
                } else if self.state != State::Done {
                    self.release_memory();
                }
                return Ok(close);
            }
            State::Open => {}
        }
        let result = self.parse_event();
        match &result {
            Ok(Some(Incoming::Close(_))) => self.finish(),
            Err(_) => {
                // The offending frame is skipped (its header, when that is
                // where the error lies, is still at the front of `buf`).
                self.start_closing();
                // A Close right behind the violation is reported by the
                // next call.
                self.held_close = self.drain();
                if self.state != State::Done {
                    self.release_memory();
                }
            }
            Ok(_) => self.release_memory(),
        }
        result
    }

    /// Skips frames by length; returns the peer's Close when one is
    /// complete. Moves to `Done` when a length cannot be followed.
    fn drain(&mut self) -> Option<Incoming> {
        loop {
            let State::Draining { skip } = &mut self.state else {
                return None;
            };
            if *skip > 0 {
                let n = self
                    .buf
                    .len()
                    .min(usize::try_from(*skip).unwrap_or(usize::MAX));
                self.buf.advance(n);
                *skip -= n as u64;
                if *skip > 0 {
                    return None;
                }
            }
            let buf = &self.buf[..];
            let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
                return None;
            };
            let len7 = b1 & 0x7F;
            let (len, len_bytes) = match len7 {
                LEN_16 => match buf.get(2..4) {
                    Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
                    None => return None,
                },
                LEN_64 => match buf.get(2..10) {
                    Some(b) => {
                        let mut raw = [0u8; 8];
                        raw.copy_from_slice(b);
                        (u64::from_be_bytes(raw), 8)
                    }
                    None => return None,
                },
                n => (u64::from(n), 0),
            };
            if len >> 63 != 0 {
                // No frame boundary can be found after this.
                self.finish();
                return None;
            }
            let masked = b1 & MASK_BIT != 0;
            let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
            let is_close = b0 & 0x0F == OpCode::Close.as_u8() && len <= MAX_CONTROL_PAYLOAD as u64;
            if is_close {
                // At most 14 + 125 bytes are buffered for it.
                let total = header_len + len as usize;
                if buf.len() < total {
                    return None;
                }
                let mut mask = [0u8; 4];
                if masked {
                    mask.copy_from_slice(&buf[header_len - 4..header_len]);
                }
                self.buf.advance(header_len);
                let mut payload = self.buf.split_to(len as usize);
                unmask(&mut payload, mask);
                // A malformed close still ends the handshake.
                return Some(Incoming::Close(parse_close(&payload).unwrap_or(None)));
            }
            // The mask key, when not here yet, is skipped with the payload.
            let here = buf.len().min(header_len);
            self.buf.advance(here);
            self.state = State::Draining {
                skip: len + (header_len - here) as u64,
            };
        }
    }

    /// The configured message size limit.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Bytes held but not yet returned as events (unparsed input plus the
    /// fragments of an open message).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.partial.as_ref().map_or(0, |p| p.payload.len())
    }

    /// Heap bytes reserved by the reader; zero when idle.
    pub fn capacity(&self) -> usize {
        self.buf.capacity() + self.partial.as_ref().map_or(0, |p| p.payload.capacity())
    }

    /// Whether a Close was received or a violation detected (or strict
    /// parsing was stopped by [`Self::start_closing`]).
    pub fn is_finished(&self) -> bool {
        self.state != State::Open
    }

    /// Complete non-final fragments parsed since the last call: they yield
    /// no event, yet each is a frame for the rate limit and for liveness.
    pub fn take_fragments(&mut self) -> u32 {
        std::mem::take(&mut self.fragments)
    }

    /// Whether the peer's Close can still be heard: draining, not done.
    pub fn awaits_close(&self) -> bool {
        matches!(self.state, State::Draining { .. })
    }

    /// Parses frames until one yields an event or more input is needed.
    fn parse_event(&mut self) -> Result<Option<Incoming>, ReadError> {
        loop {
            let Some(header) = self.parse_header()? else {
                return Ok(None);
            };
            if self.buf.len() < header.header_len + header.payload_len {
                return Ok(None);
            }
            self.buf.advance(header.header_len);
            let mut payload = self.buf.split_to(header.payload_len);
            unmask(&mut payload, header.mask);
            if let Some(event) = self.handle_frame(header, payload)? {
                return Ok(Some(event));
            }
        }
    }

    /// Parses and validates the header at the front of the buffer.
    fn parse_header(&self) -> Result<Option<Header>, ReadError> {
        let buf = &self.buf[..];
        let (Some(&b0), Some(&b1)) = (buf.first(), buf.get(1)) else {
            return Ok(None);
        };
        let (fin, opcode, compressed) = check_first_byte(b0, self.inflate)?;
        if b1 & MASK_BIT == 0 {
            return Err(ReadError::Unmasked);
        }
        let len7 = b1 & 0x7F;
        if opcode.is_control() && usize::from(len7) > MAX_CONTROL_PAYLOAD {
            return Err(ReadError::ControlTooLong);
        }
        self.check_sequence(opcode)?;
        let Some((payload_len, len_bytes)) = decode_length(len7, &buf[2..])? else {
            return Ok(None);
        };
        let payload_len = self.check_size(opcode, compressed, payload_len)?;
        let header_len = 2 + len_bytes + 4;
        let Some(mask) = buf.get(header_len - 4..header_len) else {
            return Ok(None);
        };
        Ok(Some(Header {
            fin,
            opcode,
            compressed,
            mask: [mask[0], mask[1], mask[2], mask[3]],
            payload_len,
            header_len,
        }))
    }

    /// Checks that `opcode` fits the fragmentation state.
    fn check_sequence(&self, opcode: OpCode) -> Result<(), ReadError> {
        match (opcode, self.partial.is_some()) {
            (OpCode::Continuation, false) => Err(ReadError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, true) => Err(ReadError::ExpectedContinuation),
            _ => Ok(()),
        }
    }

    /// Checks the announced length against the message limit, counting the
    /// fragments already received: the limit itself for a plain message,
    /// [`compressed_limit`] of it for a compressed one (whose inflated
    /// size is checked while inflating).
    fn check_size(
        &self,
        opcode: OpCode,
        compressed: bool,
        payload_len: u64,
    ) -> Result<usize, ReadError> {
        if opcode.is_control() {
            // Already bounded to 125 by the 7-bit length check.
            return Ok(payload_len as usize);
        }
        let (so_far, compressed) = match &self.partial {
            Some(p) => (p.payload.len() as u64, p.compressed),
            None => (0, compressed),
        };
        let limit = if compressed {
            compressed_limit(self.max_message_size)
        } else {
            self.max_message_size
        };
        let size = so_far.saturating_add(payload_len);
        match usize::try_from(size) {
            Ok(total) if total <= limit => Ok(payload_len as usize),
            _ => Err(ReadError::MessageTooBig { size, max: limit }),
        }
    }

    /// Turns one complete, unmasked frame into an event (or none, for a
    /// non-final fragment).
    fn handle_frame(
        &mut self,
        header: Header,
        payload: BytesMut,
    ) -> Result<Option<Incoming>, ReadError> {
        match header.opcode {
            OpCode::Ping => Ok(Some(Incoming::Ping(payload.freeze()))),
            OpCode::Pong => Ok(Some(Incoming::Pong(payload.freeze()))),
            OpCode::Close => parse_close(&payload).map(|close| Some(Incoming::Close(close))),
            OpCode::Text => self.start_message(DataKind::Text, header, payload),
            OpCode::Binary => self.start_message(DataKind::Binary, header, payload),
            OpCode::Continuation => self.continue_message(header.fin, &payload),
        }
    }

    /// Handles the first frame of a data message.
    fn start_message(
        &mut self,
        kind: DataKind,
        header: Header,
        payload: BytesMut,
    ) -> Result<Option<Incoming>, ReadError> {
        if header.fin {
            let payload = if header.compressed {
                deflate::inflate(&payload, self.max_message_size)?
            } else {
                payload
            };
            return complete_message(kind, payload.freeze()).map(Some);
        }
        let mut partial = Partial {
            kind,
            payload: BytesMut::new(),
            utf8_checked: 0,
            compressed: header.compressed,
        };
        partial.push(&payload)?;
        self.partial = Some(partial);
        self.fragments += 1;
        Ok(None)
    }

    /// Handles a continuation frame of the open message.
    fn continue_message(
        &mut self,
        fin: bool,
        payload: &[u8],
    ) -> Result<Option<Incoming>, ReadError> {
        let Some(partial) = self.partial.as_mut() else {
            return Err(ReadError::UnexpectedContinuation);
        };
        partial.push(payload)?;
        if !fin {
            self.fragments += 1;
            return Ok(None);
        }
        let Some(partial) = self.partial.take() else {
            return Err(ReadError::UnexpectedContinuation);
        };
        let payload = if partial.compressed {
            deflate::inflate(&partial.payload, self.max_message_size)?
        } else {
            partial.payload
        };
        complete_message(partial.kind, payload.freeze()).map(Some)
    }

    /// Gives back memory that is no longer needed: an empty buffer is
    /// dropped, and a small tail left behind by a large frame is copied out
    /// so it no longer pins that frame's allocation.
    fn release_memory(&mut self) {
        if self.buf.is_empty() {
            self.buf = BytesMut::new();
            self.high_water = 0;
        } else if self.high_water > SHRINK_THRESHOLD && self.buf.len() * 4 < self.high_water {
            self.buf = BytesMut::from(&self.buf[..]);
            self.high_water = self.buf.len();
        }
    }

    /// Stops parsing for good and frees every buffer.
    fn finish(&mut self) {
        self.state = State::Done;
        self.buf = BytesMut::new();
        self.high_water = 0;
        self.partial = None;
    }
}

impl Partial {
    /// Appends an unmasked fragment, checking plain text incrementally so
    /// invalid UTF-8 fails at the fragment that carries it (compressed
    /// text is checked once inflated).
    fn push(&mut self, fragment: &[u8]) -> Result<(), ReadError> {
        self.payload.extend_from_slice(fragment);
        if self.kind == DataKind::Text && !self.compressed {
            self.check_utf8()?;
        }
        Ok(())
    }

    /// Advances the validated UTF-8 prefix; an incomplete sequence at the
    /// end is fine (the next fragment may complete it).
    fn check_utf8(&mut self) -> Result<(), ReadError> {
        match std::str::from_utf8(&self.payload[self.utf8_checked..]) {
            Ok(_) => self.utf8_checked = self.payload.len(),
            Err(e) if e.error_len().is_some() => return Err(ReadError::InvalidUtf8),
            Err(e) => self.utf8_checked += e.valid_up_to(),
        }
        Ok(())
    }
}

/// Checks FIN / RSV / opcode of the first header byte: `(fin, opcode,
/// compressed)`. RSV1 is allowed only with `inflate`, and only on the
/// first frame of a data message (RFC 7692 §6.1).
fn check_first_byte(b0: u8, inflate: bool) -> Result<(bool, OpCode, bool), ReadError> {
    let rsv1 = b0 & RSV1_BIT != 0;
    if b0 & RSV_BITS & !RSV1_BIT != 0 || (rsv1 && !inflate) {
        return Err(ReadError::ReservedBits);
    }
    let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(ReadError::UnknownOpcode(b0 & 0x0F))?;
    if rsv1 && !matches!(opcode, OpCode::Text | OpCode::Binary) {
        return Err(ReadError::ReservedBits);
    }
    let fin = b0 & FIN_BIT != 0;
    if opcode.is_control() && !fin {
        return Err(ReadError::FragmentedControl);
    }
    Ok((fin, opcode, rsv1))
}

/// Decodes the payload length from the 7-bit field and the extended length
/// bytes that follow it: `(length, extended bytes used)`, `None` when the
/// extended bytes have not all arrived.
fn decode_length(len7: u8, rest: &[u8]) -> Result<Option<(u64, usize)>, ReadError> {
    match len7 {
        LEN_16 => {
            let Some(bytes) = rest.get(..2) else {
                return Ok(None);
            };
            let len = u64::from(u16::from_be_bytes([bytes[0], bytes[1]]));
            if len <= MAX_CONTROL_PAYLOAD as u64 {
                return Err(ReadError::NonMinimalLength);
            }
            Ok(Some((len, 2)))
        }
        LEN_64 => {
            let Some(bytes) = rest.get(..8) else {
                return Ok(None);
            };
            let mut raw = [0u8; 8];
            raw.copy_from_slice(bytes);
            let len = u64::from_be_bytes(raw);
            if len >> 63 != 0 {
                return Err(ReadError::LengthOverflow);
            }
            if len <= u64::from(u16::MAX) {
                return Err(ReadError::NonMinimalLength);
            }
            Ok(Some((len, 8)))
        }
        n => Ok(Some((u64::from(n), 0))),
    }
}

/// Unmasks a client payload in place.
fn unmask(payload: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in payload.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

/// Validates a complete data message and wraps it in its event.
fn complete_message(kind: DataKind, payload: Bytes) -> Result<Incoming, ReadError> {
    match kind {
        DataKind::Binary => Ok(Incoming::Binary(payload)),
        DataKind::Text => match std::str::from_utf8(&payload) {
            Ok(_) => Ok(Incoming::Text(payload)),
            Err(_) => Err(ReadError::InvalidUtf8),
        },
    }
}

/// Parses a close payload: empty, or a valid code followed by a UTF-8 reason.
fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, ReadError> {
    match payload {
        [] => Ok(None),
        [_] => Err(ReadError::InvalidClosePayload),
        [hi, lo, reason @ ..] => {
            let code = u16::from_be_bytes([*hi, *lo]);
            if !CloseCode(code).is_valid_on_wire() {
                return Err(ReadError::InvalidCloseCode(code));
            }
            let reason = std::str::from_utf8(reason).map_err(|_| ReadError::InvalidCloseReason)?;
            Ok(Some((code, reason.to_owned())))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    const MAX: usize = 1 << 20;

    /// Builds a masked client frame with raw control over every header field.
    fn raw_frame(b0: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
        let mut out = vec![b0];
        let mask_bit = if mask.is_some() { MASK_BIT } else { 0 };
        push_len(&mut out, mask_bit, payload.len());
        if let Some(mask) = mask {
            out.extend_from_slice(&mask);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        } else {
            out.extend_from_slice(payload);
        }
        out
    }

    fn push_len(out: &mut Vec<u8>, mask_bit: u8, len: usize) {
        if len <= 125 {
            out.push(mask_bit | len as u8);
        } else if len <= 65535 {
            out.push(mask_bit | LEN_16);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mask_bit | LEN_64);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }

    fn client_frame(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let b0 = if fin { FIN_BIT } else { 0 } | opcode.as_u8();
        raw_frame(b0, payload, Some(MASK))
    }

    fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        client_frame(true, opcode, payload)
    }

    /// Feeds all bytes at once and collects events until more input is needed.
    fn events(reader: &mut FrameReader, bytes: &[u8]) -> Result<Vec<Incoming>, ReadError> {
        reader.extend(bytes);
        let mut out = Vec::new();
        while let Some(event) = reader.next_event()? {
            out.push(event);
        }
        Ok(out)
    }

    fn one_event(bytes: &[u8]) -> Result<Incoming, ReadError> {
        let mut reader = FrameReader::new(MAX);
        let mut all = events(&mut reader, bytes)?;
        assert_eq!(all.len(), 1, "expected exactly one event: {all:?}");
        Ok(all.remove(0))
    }

    fn error_code(bytes: &[u8]) -> u16 {
        let mut reader = FrameReader::new(MAX);
        let err = events(&mut reader, bytes).expect_err("frame must be rejected");
        assert!(reader.is_finished());
        assert_eq!(reader.capacity(), 0);
        err.close_code()
    }

    #[test]
    fn text_round_trips_at_length_boundaries() {
        for len in [0, 1, 125, 126, 65535, 65536] {
            let payload = "x".repeat(len);
            let event = one_event(&masked(OpCode::Text, payload.as_bytes())).unwrap();
            assert_eq!(event, Incoming::Text(Bytes::from(payload)), "len {len}");
        }
    }

    #[test]
    fn binary_ping_pong_round_trip() {
        let data: Vec<u8> = (0..=255).collect();
        assert_eq!(
            one_event(&masked(OpCode::Binary, &data)).unwrap(),
            Incoming::Binary(Bytes::from(data))
        );
        assert_eq!(
            one_event(&masked(OpCode::Ping, b"hb")).unwrap(),
            Incoming::Ping(Bytes::from_static(b"hb"))
        );
        assert_eq!(
            one_event(&masked(OpCode::Pong, &[1u8; 125])).unwrap(),
            Incoming::Pong(Bytes::from(vec![1u8; 125]))
        );
    }

    #[test]
    fn byte_at_a_time_feeding() {
        let mut wire = masked(OpCode::Text, "héllo wörld".as_bytes());
        wire.extend(masked(OpCode::Ping, b"p"));
        wire.extend(masked(OpCode::Binary, &[9u8; 300]));
        let mut reader = FrameReader::new(MAX);
        let mut got = Vec::new();
        for byte in &wire {
            reader.extend(std::slice::from_ref(byte));
            while let Some(event) = reader.next_event().unwrap() {
                got.push(event);
            }
        }
        assert_eq!(
            got,
            vec![
                Incoming::Text(Bytes::from("héllo wörld")),
                Incoming::Ping(Bytes::from_static(b"p")),
                Incoming::Binary(Bytes::from(vec![9u8; 300])),
            ]
        );
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn several_frames_in_one_read() {
        let mut wire = masked(OpCode::Text, b"a");
        wire.extend(masked(OpCode::Text, b"b"));
        let mut reader = FrameReader::new(MAX);
        let got = events(&mut reader, &wire).unwrap();
        assert_eq!(
            got,
            vec![
                Incoming::Text(Bytes::from("a")),
                Incoming::Text(Bytes::from("b"))
            ]
        );
    }

    #[test]
    fn fragmented_text_with_interleaved_ping() {
        let mut wire = client_frame(false, OpCode::Text, b"hel");
        wire.extend(masked(OpCode::Ping, b"mid"));
        wire.extend(client_frame(false, OpCode::Continuation, b"lo "));
        wire.extend(client_frame(true, OpCode::Continuation, b"world"));
        let mut reader = FrameReader::new(MAX);
        let got = events(&mut reader, &wire).unwrap();
        assert_eq!(
            got,
            vec![
                Incoming::Ping(Bytes::from_static(b"mid")),
                Incoming::Text(Bytes::from("hello world")),
            ]
        );
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn fragmented_binary_with_empty_fragments() {
        let mut wire = client_frame(false, OpCode::Binary, b"");
        wire.extend(client_frame(false, OpCode::Continuation, &[1, 2]));
        wire.extend(client_frame(true, OpCode::Continuation, b""));
        assert_eq!(
            one_event(&wire).unwrap(),
            Incoming::Binary(Bytes::from_static(&[1, 2]))
        );
    }

    #[test]
    fn utf8_split_across_fragments_is_fine() {
        let text = "giá €";
        let bytes = text.as_bytes();
        let euro = text.find('€').unwrap();
        // Split inside the 3-byte euro sign, and inside 'á'.
        let mut wire = client_frame(false, OpCode::Text, &bytes[..3]);
        wire.extend(client_frame(
            false,
            OpCode::Continuation,
            &bytes[3..euro + 1],
        ));
        wire.extend(client_frame(true, OpCode::Continuation, &bytes[euro + 1..]));
        assert_eq!(one_event(&wire).unwrap(), Incoming::Text(Bytes::from(text)));
    }

    #[test]
    fn invalid_utf8_is_1007() {
        assert_eq!(error_code(&masked(OpCode::Text, &[b'a', 0xFF])), 1007);
        // Truncated sequence in a single frame.
        assert_eq!(error_code(&masked(OpCode::Text, &[0xE2, 0x82])), 1007);
        // Invalid byte in a middle fragment fails at that fragment.
        let mut wire = client_frame(false, OpCode::Text, b"ok");
        wire.extend(client_frame(false, OpCode::Continuation, &[0xC0, 0x80]));
        assert_eq!(error_code(&wire), 1007);
        // Incomplete sequence left open by the final fragment.
        let mut wire = client_frame(false, OpCode::Text, b"ok");
        wire.extend(client_frame(true, OpCode::Continuation, &[0xE2, 0x82]));
        assert_eq!(error_code(&wire), 1007);
        // Binary is not checked.
        assert!(one_event(&masked(OpCode::Binary, &[0xFF])).is_ok());
    }

    #[test]
    fn unmasked_frame_is_1002() {
        let wire = raw_frame(FIN_BIT | 0x1, b"hi", None);
        assert_eq!(error_code(&wire), 1002);
        let mut reader = FrameReader::new(MAX);
        assert_eq!(events(&mut reader, &wire), Err(ReadError::Unmasked));
    }

    #[test]
    fn reserved_bits_are_1002() {
        for rsv in [0x40, 0x20, 0x10] {
            let wire = raw_frame(FIN_BIT | rsv | 0x1, b"hi", Some(MASK));
            assert_eq!(error_code(&wire), 1002, "rsv {rsv:#x}");
        }
    }

    #[test]
    fn unknown_opcodes_are_1002() {
        for op in [0x3, 0x7, 0xB, 0xF] {
            let wire = raw_frame(FIN_BIT | op, b"", Some(MASK));
            let mut reader = FrameReader::new(MAX);
            assert_eq!(
                events(&mut reader, &wire),
                Err(ReadError::UnknownOpcode(op))
            );
            assert_eq!(error_code(&wire), 1002);
        }
    }

    #[test]
    fn control_frame_rules_are_1002() {
        // Not final.
        assert_eq!(error_code(&client_frame(false, OpCode::Ping, b"x")), 1002);
        assert_eq!(error_code(&client_frame(false, OpCode::Close, b"")), 1002);
        // Longer than 125 bytes.
        assert_eq!(error_code(&masked(OpCode::Ping, &[0u8; 126])), 1002);
        assert_eq!(error_code(&masked(OpCode::Pong, &[0u8; 126])), 1002);
        // Detected from the first two bytes alone.
        let mut reader = FrameReader::new(MAX);
        reader.extend(&[FIN_BIT | 0x9, MASK_BIT | LEN_16]);
        assert_eq!(reader.next_event(), Err(ReadError::ControlTooLong));
    }

    #[test]
    fn fragmentation_order_violations_are_1002() {
        assert_eq!(
            error_code(&client_frame(true, OpCode::Continuation, b"x")),
            1002
        );
        assert_eq!(
            error_code(&client_frame(false, OpCode::Continuation, b"x")),
            1002
        );

        let mut wire = client_frame(false, OpCode::Text, b"a");
        wire.extend(masked(OpCode::Text, b"b"));
        let mut reader = FrameReader::new(MAX);
        assert_eq!(
            events(&mut reader, &wire),
            Err(ReadError::ExpectedContinuation)
        );

        let mut wire = client_frame(false, OpCode::Binary, b"a");
        wire.extend(client_frame(false, OpCode::Binary, b"b"));
        assert_eq!(error_code(&wire), 1002);

        // A finished message does not leave a continuation open.
        let mut wire = masked(OpCode::Text, b"done");
        wire.extend(client_frame(true, OpCode::Continuation, b"x"));
        let mut reader = FrameReader::new(MAX);
        reader.extend(&wire);
        assert!(matches!(reader.next_event(), Ok(Some(Incoming::Text(_)))));
        assert_eq!(reader.next_event(), Err(ReadError::UnexpectedContinuation));
    }

    #[test]
    fn oversize_announced_length_is_rejected_without_buffering() {
        let mut reader = FrameReader::new(1024);
        // Header only: 64-bit length of 1 GiB, mask key, no payload at all.
        let mut header = vec![FIN_BIT | 0x2, MASK_BIT | LEN_64];
        header.extend_from_slice(&(1u64 << 30).to_be_bytes());
        reader.extend(&header);
        let before = reader.capacity();
        let err = reader.next_event().unwrap_err();
        assert_eq!(err.close_code(), 1009);
        assert!(matches!(err, ReadError::MessageTooBig { size, max: 1024 } if size == 1 << 30));
        assert!(before < 64, "only the header was buffered");
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn limit_is_inclusive_and_counts_all_fragments() {
        assert!(events(
            &mut FrameReader::new(10),
            &masked(OpCode::Text, &[b'a'; 10])
        )
        .is_ok());
        assert_eq!(
            events(
                &mut FrameReader::new(10),
                &masked(OpCode::Text, &[b'a'; 11])
            )
            .unwrap_err()
            .close_code(),
            1009
        );
        let mut wire = client_frame(false, OpCode::Text, &[b'a'; 6]);
        wire.extend(client_frame(true, OpCode::Continuation, &[b'a'; 5]));
        let err = events(&mut FrameReader::new(10), &wire).unwrap_err();
        assert_eq!(err, ReadError::MessageTooBig { size: 11, max: 10 });
        // The second header is refused before its payload arrives.
        let mut reader = FrameReader::new(10);
        let first = client_frame(false, OpCode::Text, &[b'a'; 6]);
        let second = client_frame(true, OpCode::Continuation, &[b'a'; 5]);
        reader.extend(&first);
        assert_eq!(reader.next_event(), Ok(None));
        reader.extend(&second[..2]);
        assert_eq!(reader.next_event().unwrap_err().close_code(), 1009);
        // Control frames are not limited by the message size.
        assert!(events(&mut FrameReader::new(0), &masked(OpCode::Ping, b"abc")).is_ok());
    }

    #[test]
    fn length_top_bit_is_1002() {
        let mut wire = vec![FIN_BIT | 0x2, MASK_BIT | LEN_64];
        wire.extend_from_slice(&(1u64 << 63).to_be_bytes());
        let mut reader = FrameReader::new(usize::MAX);
        reader.extend(&wire);
        assert_eq!(reader.next_event(), Err(ReadError::LengthOverflow));
        assert_eq!(ReadError::LengthOverflow.close_code(), 1002);
    }

    #[test]
    fn non_minimal_lengths_are_1002() {
        let mut wire = vec![FIN_BIT | 0x1, MASK_BIT | LEN_16, 0, 5];
        wire.extend_from_slice(&MASK);
        assert_eq!(error_code(&wire), 1002);
        let mut wire = vec![FIN_BIT | 0x1, MASK_BIT | LEN_64];
        wire.extend_from_slice(&200u64.to_be_bytes());
        assert_eq!(error_code(&wire), 1002);
    }

    #[test]
    fn close_frames() {
        assert_eq!(
            one_event(&masked(OpCode::Close, b"")).unwrap(),
            Incoming::Close(None)
        );
        let mut body = 1000u16.to_be_bytes().to_vec();
        body.extend_from_slice("tạm biệt".as_bytes());
        assert_eq!(
            one_event(&masked(OpCode::Close, &body)).unwrap(),
            Incoming::Close(Some((1000, "tạm biệt".to_owned())))
        );
        for code in [1001u16, 1003, 1007, 1011, 1012, 1014, 3000, 4000, 4999] {
            let body = code.to_be_bytes();
            assert_eq!(
                one_event(&masked(OpCode::Close, &body)).unwrap(),
                Incoming::Close(Some((code, String::new()))),
                "{code}"
            );
        }
    }

    #[test]
    fn invalid_close_payloads_are_1002() {
        assert_eq!(error_code(&masked(OpCode::Close, &[0x03])), 1002);
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535] {
            let wire = masked(OpCode::Close, &code.to_be_bytes());
            let mut reader = FrameReader::new(MAX);
            assert_eq!(
                events(&mut reader, &wire),
                Err(ReadError::InvalidCloseCode(code))
            );
            assert_eq!(error_code(&wire), 1002);
        }
        let mut body = 1000u16.to_be_bytes().to_vec();
        body.extend_from_slice(&[0xFF, 0xFE]);
        assert_eq!(error_code(&masked(OpCode::Close, &body)), 1002);
    }

    #[test]
    fn reader_is_finished_after_close() {
        let mut wire = masked(OpCode::Close, &1000u16.to_be_bytes());
        wire.extend(masked(OpCode::Text, b"late"));
        let mut reader = FrameReader::new(MAX);
        let got = events(&mut reader, &wire).unwrap();
        assert_eq!(got, vec![Incoming::Close(Some((1000, String::new())))]);
        assert!(reader.is_finished());
        reader.extend(b"more junk");
        assert_eq!(reader.next_event(), Ok(None));
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn close_after_a_violation_is_still_heard() {
        let mut wire = raw_frame(FIN_BIT | 0x1, b"hi", None);
        wire.extend(masked(OpCode::Close, &1002u16.to_be_bytes()));
        let mut reader = FrameReader::new(MAX);
        reader.extend(&wire);
        assert_eq!(reader.next_event(), Err(ReadError::Unmasked));
        assert!(reader.awaits_close());
        assert_eq!(
            reader.next_event(),
            Ok(Some(Incoming::Close(Some((1002, String::new())))))
        );
        assert!(!reader.awaits_close());
    }

    #[test]
    fn draining_skips_an_oversized_payload_without_buffering() {
        let mut reader = FrameReader::new(1024);
        let big = masked(OpCode::Binary, &vec![5u8; 200_000]);
        reader.extend(&big[..4096]);
        assert_eq!(reader.next_event().unwrap_err().close_code(), 1009);
        for chunk in big[4096..].chunks(2048) {
            reader.extend(chunk);
            assert_eq!(reader.next_event(), Ok(None));
            assert_eq!(reader.capacity(), 0, "skipped bytes are not kept");
        }
        // Frames after it are skipped too; only the Close is reported.
        let mut rest = masked(OpCode::Text, b"ignored");
        rest.extend(client_frame(false, OpCode::Binary, &[1u8; 300]));
        rest.extend(masked(OpCode::Close, b""));
        reader.extend(&rest);
        assert_eq!(reader.next_event(), Ok(Some(Incoming::Close(None))));
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn start_closing_reports_only_the_close() {
        let mut reader = FrameReader::new(MAX);
        reader.extend(&client_frame(false, OpCode::Text, b"half"));
        assert_eq!(reader.next_event(), Ok(None));
        assert_eq!(reader.take_fragments(), 1);
        reader.start_closing();
        let mut wire = masked(OpCode::Ping, b"p");
        wire.extend(masked(OpCode::Close, &1000u16.to_be_bytes()));
        assert_eq!(
            events(&mut reader, &wire).unwrap(),
            vec![Incoming::Close(Some((1000, String::new())))]
        );
    }

    #[test]
    fn untraceable_length_while_draining_ends_the_reader() {
        let mut reader = FrameReader::new(MAX);
        reader.start_closing();
        let mut wire = vec![FIN_BIT | 0x2, MASK_BIT | LEN_64];
        wire.extend_from_slice(&(1u64 << 63).to_be_bytes());
        wire.extend(masked(OpCode::Close, b""));
        assert_eq!(events(&mut reader, &wire).unwrap(), vec![]);
        assert!(!reader.awaits_close());
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn close_between_fragments_is_accepted() {
        let mut wire = client_frame(false, OpCode::Text, b"half");
        wire.extend(masked(OpCode::Close, b""));
        assert_eq!(one_event(&wire).unwrap(), Incoming::Close(None));
    }

    #[test]
    fn idle_reader_holds_no_heap() {
        let mut reader = FrameReader::new(MAX);
        assert_eq!(reader.capacity(), 0);
        assert_eq!(reader.next_event(), Ok(None));
        assert_eq!(reader.capacity(), 0);

        let big = masked(OpCode::Binary, &vec![7u8; 100_000]);
        let got = events(&mut reader, &big).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(reader.capacity(), 0);
        assert_eq!(reader.buffered(), 0);

        // Large fragmented message, fed in socket-sized chunks.
        let mut wire = client_frame(false, OpCode::Text, &[b'a'; 50_000]);
        wire.extend(client_frame(true, OpCode::Continuation, &[b'b'; 50_000]));
        let mut got = Vec::new();
        for chunk in wire.chunks(4096) {
            got.extend(events(&mut reader, chunk).unwrap());
        }
        assert_eq!(got.len(), 1);
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn partly_drained_large_buffer_is_compacted() {
        let mut wire = masked(OpCode::Binary, &vec![1u8; 100_000]);
        let next = masked(OpCode::Text, b"next message");
        wire.extend_from_slice(&next[..5]);
        let mut reader = FrameReader::new(MAX);
        let got = events(&mut reader, &wire).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(reader.buffered(), 5);
        assert_eq!(reader.high_water, 5, "tail copied out of the large buffer");
        assert_eq!(reader.capacity(), 5);
        let got = events(&mut reader, &next[5..]).unwrap();
        assert_eq!(got, vec![Incoming::Text(Bytes::from("next message"))]);
        assert_eq!(reader.capacity(), 0);
    }

    #[test]
    fn error_reasons_fit_a_close_frame() {
        let errors = [
            ReadError::Unmasked,
            ReadError::ReservedBits,
            ReadError::UnknownOpcode(3),
            ReadError::FragmentedControl,
            ReadError::ControlTooLong,
            ReadError::LengthOverflow,
            ReadError::NonMinimalLength,
            ReadError::UnexpectedContinuation,
            ReadError::ExpectedContinuation,
            ReadError::MessageTooBig { size: 2, max: 1 },
            ReadError::InvalidUtf8,
            ReadError::InvalidClosePayload,
            ReadError::InvalidCloseCode(5),
            ReadError::InvalidCloseReason,
            ReadError::InflatedTooBig { max: 1 },
            ReadError::InvalidCompressed,
        ];
        for err in errors {
            assert!(err.reason().len() <= crate::ws::frame::MAX_CLOSE_REASON);
            let frame = err.close_frame();
            assert_eq!(frame[0], 0x88);
            assert_eq!(u16::from_be_bytes([frame[2], frame[3]]), err.close_code());
            assert_eq!(&frame[4..], err.reason().as_bytes());
        }
    }

    fn deflating(max: usize) -> FrameReader {
        FrameReader::new(max).inflating(true)
    }

    #[test]
    fn compressed_messages_are_inflated_when_negotiated() {
        let text = "{\"type\":\"ping\",\"id\":7}";
        let packed = crate::ws::deflate::compress(text.as_bytes());
        let wire = raw_frame(FIN_BIT | RSV1_BIT | 0x1, &packed, Some(MASK));
        assert_eq!(
            events(&mut deflating(MAX), &wire).unwrap(),
            vec![Incoming::Text(Bytes::from(text))]
        );
        // Not negotiated: RSV1 stays a protocol error.
        assert_eq!(
            events(&mut FrameReader::new(MAX), &wire),
            Err(ReadError::ReservedBits)
        );
        // Uncompressed messages still pass on a deflate connection.
        assert_eq!(
            one_event_with(deflating(MAX), &masked(OpCode::Text, b"plain")),
            Ok(Incoming::Text(Bytes::from("plain")))
        );
        // Binary too.
        let wire = raw_frame(FIN_BIT | RSV1_BIT | 0x2, &packed, Some(MASK));
        assert_eq!(
            one_event_with(deflating(MAX), &wire),
            Ok(Incoming::Binary(Bytes::from(text)))
        );
    }

    fn one_event_with(mut reader: FrameReader, bytes: &[u8]) -> Result<Incoming, ReadError> {
        let mut got = events(&mut reader, bytes)?;
        assert_eq!(got.len(), 1);
        Ok(got.remove(0))
    }

    #[test]
    fn compressed_fragments_with_a_ping_between() {
        let text = "giá € ".repeat(300);
        let packed = crate::ws::deflate::compress(text.as_bytes());
        let (a, rest) = packed.split_at(packed.len() / 3);
        let (b, c) = rest.split_at(rest.len() / 2);
        let mut wire = raw_frame(RSV1_BIT | 0x1, a, Some(MASK));
        wire.extend(masked(OpCode::Ping, b"mid"));
        wire.extend(client_frame(false, OpCode::Continuation, b));
        wire.extend(client_frame(true, OpCode::Continuation, c));
        let mut reader = deflating(MAX);
        let mut got = Vec::new();
        for chunk in wire.chunks(7) {
            got.extend(events(&mut reader, chunk).unwrap());
        }
        assert_eq!(
            got,
            vec![
                Incoming::Ping(Bytes::from_static(b"mid")),
                Incoming::Text(Bytes::from(text))
            ]
        );
        assert_eq!(reader.capacity(), 0, "nothing kept after the message");
    }

    #[test]
    fn rsv1_misuse_is_1002_even_when_negotiated() {
        // On a control frame.
        let ping = raw_frame(FIN_BIT | RSV1_BIT | 0x9, b"", Some(MASK));
        assert_eq!(
            events(&mut deflating(MAX), &ping),
            Err(ReadError::ReservedBits)
        );
        // On a continuation frame.
        let mut wire = client_frame(false, OpCode::Text, b"a");
        wire.extend(raw_frame(FIN_BIT | RSV1_BIT, b"b", Some(MASK)));
        assert_eq!(
            events(&mut deflating(MAX), &wire),
            Err(ReadError::ReservedBits)
        );
        // RSV2 and RSV3.
        for rsv in [0x20, 0x10] {
            let wire = raw_frame(FIN_BIT | RSV1_BIT | rsv | 0x1, b"", Some(MASK));
            assert_eq!(
                events(&mut deflating(MAX), &wire),
                Err(ReadError::ReservedBits)
            );
        }
    }

    #[test]
    fn limit_applies_to_the_inflated_size() {
        let at_limit = crate::ws::deflate::compress(&[b'a'; 100]);
        let wire = raw_frame(FIN_BIT | RSV1_BIT | 0x1, &at_limit, Some(MASK));
        assert!(events(&mut deflating(100), &wire).is_ok());
        let over = crate::ws::deflate::compress(&[b'a'; 101]);
        let wire = raw_frame(FIN_BIT | RSV1_BIT | 0x1, &over, Some(MASK));
        let err = events(&mut deflating(100), &wire).unwrap_err();
        assert_eq!(err, ReadError::InflatedTooBig { max: 100 });
        assert_eq!(err.close_code(), 1009);
    }

    #[test]
    fn a_decompression_bomb_is_1009_at_small_cost() {
        // 4 MiB of spaces in about 4 KiB, in two fragments: held
        // compressed, inflated at the end, stopped at the first byte past
        // the limit.
        let bomb = crate::ws::deflate::compress(&vec![b' '; 4 << 20]);
        let (a, b) = bomb.split_at(100);
        let mut reader = deflating(4096);
        let first = raw_frame(RSV1_BIT | 0x1, a, Some(MASK));
        assert_eq!(events(&mut reader, &first), Ok(vec![]));
        assert!(reader.capacity() < 1024, "only compressed bytes are held");
        let last = raw_frame(FIN_BIT, b, Some(MASK));
        let err = events(&mut reader, &last).unwrap_err();
        assert_eq!(err, ReadError::InflatedTooBig { max: 4096 });
        assert_eq!(reader.capacity(), 0);
        // The compressed size is bounded as well: 16 MiB of zeros takes
        // ~16 KiB, refused from its header.
        let bomb = crate::ws::deflate::compress(&vec![0u8; 16 << 20]);
        let wire = raw_frame(FIN_BIT | RSV1_BIT | 0x1, &bomb, Some(MASK));
        let mut reader = deflating(4096);
        reader.extend(&wire[..14]);
        assert!(matches!(
            reader.next_event(),
            Err(ReadError::MessageTooBig { .. })
        ));
    }

    #[test]
    fn corrupt_compressed_data_is_1007_and_invalid_utf8_too() {
        let wire = raw_frame(FIN_BIT | RSV1_BIT | 0x1, &[0xff, 0xff, 0xff], Some(MASK));
        let err = events(&mut deflating(MAX), &wire).unwrap_err();
        assert_eq!(err, ReadError::InvalidCompressed);
        assert_eq!(err.close_code(), 1007);
        let packed = crate::ws::deflate::compress(&[b'a', 0xff]);
        let wire = raw_frame(FIN_BIT | RSV1_BIT | 0x1, &packed, Some(MASK));
        assert_eq!(
            events(&mut deflating(MAX), &wire),
            Err(ReadError::InvalidUtf8)
        );
    }

    #[test]
    fn unmask_matches_the_rfc_example() {
        // RFC 6455 §5.7: masked "Hello".
        let wire = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        assert_eq!(
            one_event(&wire).unwrap(),
            Incoming::Text(Bytes::from("Hello"))
        );
    }
}
