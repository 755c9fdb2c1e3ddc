#!/usr/bin/env python3
"""Writes the committed seed corpora of the fuzz targets (re-run to refresh).

frame_reader / frame_diff: hand-made client frames (valid and invalid);
client_message: the protocol's golden fixtures plus edge cases;
handshake: valid and broken upgrade request heads;
ingest: the protocol's ingest fixtures, each line alone and all together.
"""
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "protocol", "tests", "fixtures")
MASK = bytes([0x12, 0x34, 0x56, 0x78])


def frame(opcode, payload=b"", fin=True, rsv=0, mask=True, length_form=None):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    form = length_form or (7 if n <= 125 else 16 if n <= 0xFFFF else 64)
    if form == 7:
        head = bytes([b0, mbit | n])
    elif form == 16:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    return head + MASK + bytes(b ^ MASK[i % 4] for i, b in enumerate(payload))


def deflate(data):
    """permessage-deflate: raw DEFLATE, sync flush, tail removed."""
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def close(code, reason=b""):
    return frame(0x8, struct.pack(">H", code) + reason)


euro = "€".encode()
FRAMES = {
    "text_ping": frame(0x1, b'{"type":"ping","id":1}'),
    "empty_text": frame(0x1),
    "binary": frame(0x2, bytes(range(16))),
    "ping_pong": frame(0x9, b"hello") + frame(0xA, b"hb"),
    "close_normal": close(1000, b"bye"),
    "close_empty": frame(0x8),
    "close_one_byte": frame(0x8, b"\x03"),
    "close_bad_code": close(1005),
    "close_4000": close(4000, "ok ✓".encode()),
    "close_bad_reason": close(1000, b"\xff"),
    "fragmented_split_euro": frame(0x1, b"a" + euro[:1], fin=False)
    + frame(0x9, b"mid")
    + frame(0x0, euro[1:], fin=True),
    "fragmented_three": frame(0x1, b'{"type":', fin=False)
    + frame(0x0, b'"ping",', fin=False)
    + frame(0x0, b'"id":7}'),
    "len16": frame(0x1, b"x" * 200),
    "len64": frame(0x2, b"y" * 70000),
    "len16_non_minimal": frame(0x1, b"abc", length_form=16),
    "invalid_utf8": frame(0x1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"),
    "unmasked": frame(0x1, b"{}", mask=False),
    "rsv1": frame(0x1, b"{}", rsv=1),
    "opcode_3": frame(0x3),
    "opcode_b": frame(0xB),
    "fragmented_ping": frame(0x9, b"x", fin=False),
    "long_ping": frame(0x9, b"p" * 126),
    "lonely_continuation": frame(0x0, b"x"),
    "text_inside_fragment": frame(0x1, b"a", fin=False) + frame(0x1, b"b"),
    "huge_announced": bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 40) + MASK,
    "top_bit_length": bytes([0x82, 0xFF]) + struct.pack(">Q", 1 << 63) + MASK,
}

PING = b'{"type":"ping","id":1}'
PACKED = deflate(PING * 20)
DEFLATE_FRAMES = {
    "deflate_ping": frame(0x1, deflate(PING), rsv=4),
    "deflate_fragmented": frame(0x1, PACKED[:5], fin=False, rsv=4)
    + frame(0x9, b"mid")
    + frame(0x0, PACKED[5:12], fin=False)
    + frame(0x0, PACKED[12:]),
    "deflate_then_plain": frame(0x1, deflate(PING), rsv=4) + frame(0x1, PING),
    "deflate_bomb": frame(0x1, deflate(b" " * 100000), rsv=4),
    "deflate_corrupt": frame(0x1, b"\xff\xff\xff\xff", rsv=4),
    "deflate_rsv1_continuation": frame(0x1, PACKED[:5], fin=False, rsv=4)
    + frame(0x0, PACKED[5:], rsv=4),
    "deflate_rsv1_ping": frame(0x9, b"x", rsv=4),
    "deflate_binary": frame(0x2, deflate(bytes(range(256)) * 4), rsv=4),
}

HEADS = {
    "valid": b"GET /ws/market HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n",
    "token_lists": b"GET /ws/market?token=x HTTP/1.1\r\nHost: a\r\nUpgrade: h2c, WebSocket\r\n"
    b"Connection: keep-alive, upgrade\r\nSec-WebSocket-Key:  AAAAAAAAAAAAAAAAAAAAAA== \r\n"
    b"Sec-WebSocket-Version: 13\r\nOrigin: http://localhost\r\n\r\n",
    "two_keys": b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n",
    "version_8": b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n",
    "short_key": b"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
    b"Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
    "no_upgrade": b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "deflate_chromium": b"GET /ws/market HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n",
    "deflate_offers": b"GET /ws/market HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
    b'Sec-WebSocket-Extensions: x-foo; a="b,c", permessage-deflate; server_max_window_bits=10\r\n'
    b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=15; client_max_window_bits=\"9\"\r\n\r\n",
}

EXTRA_MESSAGES = {
    "bad_json": b"{not json",
    "unknown_type": b'{"type":"quote"}',
    "wrong_field_type": b'{"type":"ping","id":"x"}',
    "big_id": b'{"type":"ping","id":18446744073709551615}',
    "nested": b"[" * 64 + b"]" * 64,
    "extra_field": b'{"type":"ping","id":1,"pad":"' + b"x" * 64 + b'"}',
}


def write(target, name, data):
    d = os.path.join(HERE, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


for name, data in FRAMES.items():
    if len(data) > 4096:  # keep seeds small: drop the 70 kB payload, keep its header
        data = data[:64]
    write("frame_diff", name, data)
    # frame_reader: a knob byte first (limit 2 KiB, one-byte chunks) …
    write("frame_reader", name, bytes([0x07]) + data)
# … and one limit-probing seed (limit 16 B).
write("frame_reader", "limit_16", bytes([0x00]) + frame(0x1, b"x" * 17))
# permessage-deflate negotiated (knob bit 7; limit 2 KiB, chunks of 3).
for name, data in DEFLATE_FRAMES.items():
    write("frame_reader", name, bytes([0x97]) + data)
for name, data in HEADS.items():
    write("handshake", name, data)
for fixture in sorted(os.listdir(FIXTURES)):
    if os.path.isdir(os.path.join(FIXTURES, fixture)):
        continue  # ingest/ lines are not client messages
    with open(os.path.join(FIXTURES, fixture), "rb") as f:
        write("client_message", fixture, f.read())
for name, data in EXTRA_MESSAGES.items():
    write("client_message", name, data)
INGEST = os.path.join(FIXTURES, "ingest")
every = b""
for fixture in sorted(os.listdir(INGEST)):
    with open(os.path.join(INGEST, fixture), "rb") as f:
        data = f.read()
    write("ingest", fixture, data)
    every += data if data.endswith(b"\n") else data + b"\n"
write("ingest", "every_fixture", every)
