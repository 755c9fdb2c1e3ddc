//! The server's own WebSocket frame layer (RFC 6455, server side), with
//! one extension: permessage-deflate without context takeover (RFC 7692).
//!
//! This is the one module of the crate exported whole: fuzzers and interop
//! tests drive [`FrameReader`] and [`check_request`] directly. Close codes
//! are [`marketfeed_protocol::CloseCode`], which owns every wire word.
//!
//! warp/hyper perform the HTTP upgrade; afterwards a session owns the raw
//! `TcpStream` and uses this module instead of tungstenite, so that
//!
//! - each tick's snapshot is encoded into a frame **once** ([`frame::text`])
//!   and the same refcounted [`bytes::Bytes`] is written as-is to every
//!   socket, and
//! - an idle connection holds no read buffer ([`reader::FrameReader`]
//!   allocates only while a frame is arriving and releases memory after it).
//!
//! # Layout
//! - [`handshake`]: validates upgrade request headers, computes
//!   `Sec-WebSocket-Accept`.
//! - [`frame`]: encodes server → client frames (final, unmasked).
//! - [`reader`]: incremental, strict parser of client → server frames
//!   (inflating compressed messages when the extension was negotiated).
//! - [`deflate`]: the permessage-deflate codec: compress once, inflate
//!   with a cap.
//!
//! A [`ReadError`] knows its code and a short reason:
//! [`ReadError::close_frame`] builds the Close frame to send before dropping
//! the connection.

pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod reader;

pub use frame::OpCode;
pub use handshake::{accept_key, check_request, HandshakeError};
pub use reader::{FrameReader, Incoming, ReadError};

/// Cross-checks against tungstenite, a widely used independent
/// implementation: our server frames must read correctly on its client side,
/// and its (masked) client frames must parse in our reader.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod interop_tests {
    use std::io::{self, Cursor, Read, Write};

    use bytes::Bytes;
    use tungstenite::protocol::frame::coding::{Data, OpCode as TOpCode};
    use tungstenite::protocol::frame::{CloseFrame, Frame};
    use tungstenite::protocol::{Role, WebSocket};
    use tungstenite::Message;

    use marketfeed_protocol::CloseCode;

    use super::*;

    /// An in-memory socket: reads from `input`, collects writes in `output`.
    struct Duplex {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Read for Duplex {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.input.read(buf)
        }
    }

    impl Write for Duplex {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn client(input: Vec<u8>) -> WebSocket<Duplex> {
        let stream = Duplex {
            input: Cursor::new(input),
            output: Vec::new(),
        };
        WebSocket::from_raw_socket(stream, Role::Client, None)
    }

    fn parse_all(bytes: &[u8]) -> Vec<Incoming> {
        let mut reader = FrameReader::new(1 << 20);
        reader.extend(bytes);
        let mut out = Vec::new();
        while let Some(event) = reader.next_event().expect("tungstenite frame must parse") {
            out.push(event);
        }
        out
    }

    #[test]
    fn tungstenite_client_reads_our_frames() {
        let sizes = [0usize, 125, 126, 65535, 65536];
        let texts: Vec<String> = sizes.iter().map(|&n| "s".repeat(n)).collect();
        let mut wire = Vec::new();
        for text in &texts {
            wire.extend_from_slice(&frame::text(text.as_bytes()));
        }
        wire.extend_from_slice(&frame::binary(&[1, 2, 3]));
        wire.extend_from_slice(&frame::ping(b"hb"));
        wire.extend_from_slice(&frame::close(
            CloseCode::GOING_AWAY,
            CloseCode::GOING_AWAY.reason(),
        ));

        let mut ws = client(wire);
        for text in &texts {
            assert_eq!(ws.read().unwrap(), Message::text(text.as_str()));
        }
        assert_eq!(ws.read().unwrap(), Message::binary(vec![1, 2, 3]));
        assert_eq!(ws.read().unwrap(), Message::Ping(Bytes::from_static(b"hb")));
        match ws.read().unwrap() {
            Message::Close(Some(close)) => {
                assert_eq!(u16::from(close.code), 1001);
                assert_eq!(close.reason.as_str(), "going away");
            }
            other => panic!("expected close, got {other:?}"),
        }
        // tungstenite answered the ping and the close; our reader parses both.
        let _ = ws.flush();
        let replies = parse_all(&ws.get_ref().output);
        assert_eq!(
            replies,
            vec![
                Incoming::Pong(Bytes::from_static(b"hb")),
                Incoming::Close(Some((1001, "going away".to_owned()))),
            ]
        );
    }

    #[test]
    fn our_reader_parses_tungstenite_client_frames() {
        let mut ws = client(Vec::new());
        for n in [0usize, 125, 126, 65535, 65536] {
            ws.write(Message::text("c".repeat(n))).unwrap();
        }
        ws.write(Message::binary(vec![0u8, 255])).unwrap();
        ws.write(Message::Ping(Bytes::from_static(b"p"))).unwrap();
        // A fragmented text message with a ping between the fragments, the
        // euro sign split across them.
        let euro = "€".as_bytes();
        let text = |data: &[u8], fin| Frame::message(data.to_vec(), TOpCode::Data(Data::Text), fin);
        let cont =
            |data: &[u8], fin| Frame::message(data.to_vec(), TOpCode::Data(Data::Continue), fin);
        ws.write(Message::Frame(text(&[b'a', euro[0]], false)))
            .unwrap();
        ws.write(Message::Frame(Frame::ping(Bytes::from_static(b"mid"))))
            .unwrap();
        ws.write(Message::Frame(cont(&euro[1..], true))).unwrap();
        ws.close(Some(CloseFrame {
            code: 1000.into(),
            reason: "bye".into(),
        }))
        .unwrap();
        ws.flush().unwrap();

        let wire = &ws.get_ref().output;
        assert!(wire[1] & 0x80 != 0, "client frames are masked");
        let mut expected: Vec<Incoming> = [0usize, 125, 126, 65535, 65536]
            .iter()
            .map(|&n| Incoming::Text(Bytes::from("c".repeat(n))))
            .collect();
        expected.extend([
            Incoming::Binary(Bytes::from_static(&[0, 255])),
            Incoming::Ping(Bytes::from_static(b"p")),
            Incoming::Ping(Bytes::from_static(b"mid")),
            Incoming::Text(Bytes::from("a€")),
            Incoming::Close(Some((1000, "bye".to_owned()))),
        ]);
        assert_eq!(parse_all(wire), expected);
    }
}
