//! The broker envelope: what a publisher writes an edge reads back, and
//! every kind of foreign or damaged message is refused with its label;
//! `hello` carries the epoch only when it is known.

use marketfeed_protocol::{
    decode_server, decode_tick, encode_server, encode_tick, BusError, Hello, MarketSnapshot,
    ServerMessage, BUS_VERSION,
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
fn foreign_and_damaged_messages_are_refused_by_reason() {
    let good = encode_tick(7, &snapshot());
    let mut cut = good.clone();
    cut.truncate(good.len() / 2);
    let other_version = String::from_utf8(good.clone())
        .expect("utf-8")
        .replacen("\"v\":1", "\"v\":2", 1);
    let mut unstamped = snapshot();
    unstamped.seq = 0;
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"hello".to_vec(), "bad_encoding"),
        (cut, "bad_encoding"),
        (br#"{"type":"snapshot"}"#.to_vec(), "bad_encoding"),
        (br#"{"v":9,"other":"shape"}"#.to_vec(), "wrong_version"),
        (other_version.into_bytes(), "wrong_version"),
        (encode_tick(0, &snapshot()), "unstamped"),
        (encode_tick(7, &unstamped), "unstamped"),
        (vec![b' '; (1 << 20) + 1], "bad_encoding"),
    ];
    for (bytes, label) in cases {
        let err = decode_tick(&bytes).expect_err("refused");
        assert_eq!(err.label(), label, "{err}");
    }
    assert!(matches!(
        decode_tick(br#"{"v":2}"#),
        Err(BusError::Version(2))
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
