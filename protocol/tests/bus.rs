//! The broker envelope: what a publisher writes an edge reads back, and
//! every kind of foreign or damaged message is refused with its label;
//! `hello` carries the epoch only when it is known.

use marketfeed_protocol::{
    decode_server, decode_tick, encode_binary, encode_server, encode_tick, BusError, Hello,
    MarketSnapshot, ServerMessage, BUS_VERSION,
};

fn snapshot() -> MarketSnapshot {
    let bytes = std::fs::read(format!(
        "{}/tests/fixtures/snapshot.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    match decode_server(&bytes).expect("fixture decodes") {
        ServerMessage::Snapshot(s) => s,
        other => panic!("not a snapshot: {other:?}"),
    }
}

#[test]
fn a_tick_round_trips_with_its_epoch() {
    let s = snapshot();
    let tick = decode_tick(&encode_tick(1_764_633_600_000_000, &s)).expect("decodes");
    assert_eq!(tick.v, BUS_VERSION);
    assert_eq!(tick.epoch, 1_764_633_600_000_000);
    assert_eq!(tick.snapshot, s);
}

#[test]
fn the_envelope_is_magic_version_epoch_and_a_binary_keyframe() {
    let s = snapshot();
    let bytes = encode_tick(0x0102_0304_0506_0708, &s);
    assert_eq!(&bytes[..3], b"mf\x02");
    assert_eq!(bytes[2], BUS_VERSION);
    assert_eq!(&bytes[3..11], &[8, 7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(
        &bytes[11..],
        encode_binary(&ServerMessage::Snapshot(s.clone())).expect("binary")
    );
    let json = encode_server(&ServerMessage::Snapshot(s));
    assert!(
        bytes.len() * 3 < json.len(),
        "{} bytes on the bus against {} in JSON",
        bytes.len(),
        json.len()
    );
}

#[test]
fn foreign_and_damaged_messages_are_refused_by_reason() {
    let good = encode_tick(7, &snapshot());
    let mut cut = good.clone();
    cut.truncate(good.len() / 2);
    let mut other_version = good.clone();
    other_version[2] = 9;
    let mut trailing = good.clone();
    trailing.push(0);
    let mut delta = good[..11].to_vec();
    let mut next = snapshot();
    next.seq += 1;
    let d = marketfeed_protocol::diff(&snapshot(), &next).expect("same symbols");
    delta.extend(encode_binary(&ServerMessage::Delta(d)).expect("binary"));
    let mut unstamped = snapshot();
    unstamped.seq = 0;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"hello".to_vec(), "bad_encoding"),
        (b"mf".to_vec(), "bad_encoding"),
        (good[..11].to_vec(), "bad_encoding"),
        (cut, "bad_encoding"),
        (trailing, "bad_encoding"),
        (delta, "bad_encoding"),
        (br#"{"type":"snapshot"}"#.to_vec(), "bad_encoding"),
        (br#"{"v":2}"#.to_vec(), "bad_encoding"),
        (br#"{"v":9,"other":"shape"}"#.to_vec(), "wrong_version"),
        (
            br#"{"v":1,"epoch":7,"snapshot":{}}"#.to_vec(),
            "wrong_version",
        ),
        (other_version, "wrong_version"),
        (encode_tick(0, &snapshot()), "unstamped"),
        (encode_tick(7, &unstamped), "unstamped"),
        (vec![b' '; (1 << 20) + 1], "bad_encoding"),
    ];
    for (bytes, label) in cases {
        let err = decode_tick(&bytes).expect_err("refused");
        assert_eq!(err.label(), label, "{err}");
    }
    assert!(matches!(
        decode_tick(br#"{"v":1}"#),
        Err(BusError::Version(1))
    ));
}

#[test]
fn hello_carries_a_known_epoch_and_reads_without_one() {
    let mut hello = Hello {
        protocol_version: 1,
        heartbeat_interval_ms: 30_000,
        tick_interval_ms: 1_000,
        symbols: vec!["ACB".into()],
        format: "marketfeed.v2.bin".into(),
        epoch: 0,
    };
    let bare = encode_server(&ServerMessage::Hello(hello.clone()));
    assert!(!String::from_utf8_lossy(&bare).contains("epoch"));
    hello.epoch = 1_764_633_600_000_000;
    let bytes = encode_server(&ServerMessage::Hello(hello.clone()));
    let text = String::from_utf8(bytes.clone()).expect("utf-8");
    assert!(text.ends_with(r#""epoch":1764633600000000}"#), "{text}");
    assert_eq!(
        decode_server(&bytes).expect("decodes"),
        ServerMessage::Hello(hello)
    );
}
