//! Golden fixtures pin the wire format: each decodes to the expected typed
//! value and re-encodes to the same JSON.

use marketfeed_protocol::{
    apply, decode_binary, decode_client, decode_server, encode_binary, encode_client,
    encode_server, ClientMessage, Delta, ErrorCode, ForeignFlow, Hello, IndexQuote, MarketSnapshot,
    PriceLevel, Quote, QuoteDelta, ServerMessage, Subprotocol, TradingPhase, PROTOCOL_VERSION,
};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("fixture is JSON")
}

fn levels(pairs: [(u64, u64); 3]) -> Vec<PriceLevel> {
    pairs
        .iter()
        .map(|&(price, volume)| PriceLevel { price, volume })
        .collect()
}

fn index(code: &str, value: i64, reference: i64, vol: u64, val: u64) -> IndexQuote {
    IndexQuote {
        code: code.into(),
        value,
        reference,
        change: value - reference,
        total_volume: vol,
        total_value: val,
    }
}

fn expected_snapshot() -> MarketSnapshot {
    MarketSnapshot {
        seq: 42,
        ts: 1_764_129_600_123_456,
        phase: TradingPhase::Continuous,
        quotes: vec![
            Quote {
                symbol: "ACB".into(),
                reference: 24_500,
                ceiling: 26_200,
                floor: 22_800,
                open: 24_550,
                high: 24_800,
                low: 24_400,
                last: 24_700,
                change: 200,
                total_volume: 1_523_400,
                total_value: 37_541_210_000,
                bids: levels([(24_650, 12_300), (24_600, 45_600), (24_550, 7_800)]),
                asks: levels([(24_700, 9_100), (24_750, 22_000), (24_800, 31_500)]),
                foreign_buy: 120_000,
                foreign_sell: 85_000,
                auction: None,
            },
            Quote {
                symbol: "FPT".into(),
                reference: 131_000,
                ceiling: 140_100,
                floor: 121_900,
                open: 0,
                high: 0,
                low: 0,
                last: 131_000,
                change: 0,
                total_volume: 0,
                total_value: 0,
                bids: levels([(130_900, 500), (130_800, 1_200), (130_700, 3_000)]),
                asks: levels([(131_100, 800), (131_200, 2_500), (131_300, 4_100)]),
                foreign_buy: 0,
                foreign_sell: 0,
                auction: None,
            },
        ],
        indices: vec![
            index("VNINDEX", 128_534, 127_910, 512_345_600, 12_456_789_000_000),
            index("VN30", 134_012, 133_500, 180_234_500, 6_123_456_000_000),
            index("HNX-INDEX", 23_145, 23_201, 65_432_100, 1_023_456_000_000),
            index("UPCOM-INDEX", 9_512, 9_498, 34_567_800, 456_789_000_000),
        ],
        foreign: ForeignFlow {
            buy_volume: 120_000,
            sell_volume: 85_000,
            buy_value: 2_964_000_000,
            sell_value: 2_099_500_000,
            net_value: 864_500_000,
        },
        stale: false,
    }
}

fn check_server(name: &str, expected: ServerMessage) {
    let bytes = fixture(name);
    let decoded = decode_server(&bytes).expect("fixture decodes");
    assert_eq!(decoded, expected, "{name}: typed value");
    assert_eq!(decoded.kind(), name);
    assert_eq!(
        json(&encode_server(&decoded)),
        json(&bytes),
        "{name}: re-encoding"
    );
}

fn check_client(name: &str, expected: ClientMessage) {
    let bytes = fixture(name);
    let decoded = decode_client(&bytes).expect("fixture decodes");
    assert_eq!(decoded, expected, "{name}: typed value");
    assert_eq!(decoded.kind(), name);
    assert_eq!(
        json(&encode_client(&decoded)),
        json(&bytes),
        "{name}: re-encoding"
    );
}

#[test]
fn hello_fixture() {
    check_server(
        "hello",
        ServerMessage::Hello(Hello {
            protocol_version: PROTOCOL_VERSION,
            heartbeat_interval_ms: 30_000,
            tick_interval_ms: 1_000,
            symbols: vec!["ACB".into(), "FPT".into()],
            format: Subprotocol::V2Bin.name().into(),
            epoch: 0,
        }),
    );
}

#[test]
fn a_hello_without_format_is_from_a_v1_server() {
    let msg = decode_server(
        br#"{"type":"hello","protocolVersion":1,"heartbeatIntervalMs":1,"tickIntervalMs":1,"symbols":[]}"#,
    )
    .expect("decodes");
    let ServerMessage::Hello(hello) = msg else {
        panic!("{msg:?}")
    };
    assert_eq!(hello.format, "marketfeed.v1.json");
}

fn expected_delta() -> Delta {
    Delta {
        seq: 43,
        ts: 1_764_129_601_123_456,
        base: 42,
        phase: None,
        quotes: vec![QuoteDelta {
            symbol: "ACB".into(),
            last: Some(24_750),
            change: Some(250),
            total_volume: Some(1_525_400),
            total_value: Some(37_590_710_000),
            asks: Some(levels([
                (24_750, 20_000),
                (24_800, 31_500),
                (24_850, 5_000),
            ])),
            auction: Some(None),
            ..QuoteDelta::default()
        }],
        indices: vec![index(
            "VN30",
            134_020,
            133_500,
            180_236_500,
            6_123_505_500_000,
        )],
        foreign: Some(ForeignFlow {
            buy_volume: 122_000,
            sell_volume: 85_000,
            buy_value: 3_013_500_000,
            sell_value: 2_099_500_000,
            net_value: 914_000_000,
        }),
        stale: Some(true),
    }
}

#[test]
fn delta_fixture() {
    check_server("delta", ServerMessage::Delta(expected_delta()));
}

#[test]
fn the_delta_fixture_applies_to_the_snapshot_fixture() {
    let mut snap = expected_snapshot();
    apply(&mut snap, &expected_delta()).expect("applies");
    assert_eq!(
        (snap.seq, snap.quotes[0].last, snap.stale),
        (43, 24_750, true)
    );
    assert_eq!(snap.quotes[0].bids, expected_snapshot().quotes[0].bids);
    assert_eq!(snap.quotes[1], expected_snapshot().quotes[1]);
    assert_eq!(snap.indices[1].value, 134_020);
}

#[test]
fn subscribed_fixture() {
    check_server(
        "subscribed",
        ServerMessage::Subscribed {
            symbols: vec!["FPT".into(), "VNM".into()],
        },
    );
}

#[test]
fn resync_fixture() {
    check_client("resync", ClientMessage::Resync);
}

/// A binary golden fixture: decodes to `expected`, which encodes to
/// exactly its bytes. `MARKETFEED_UPDATE_FIXTURES=1` rewrites it.
fn check_binary(name: &str, expected: ServerMessage) {
    let path = format!("{}/tests/fixtures/{name}.bin", env!("CARGO_MANIFEST_DIR"));
    let encoded = encode_binary(&expected).expect("has a binary form");
    if std::env::var_os("MARKETFEED_UPDATE_FIXTURES").is_some() {
        std::fs::write(&path, &encoded).expect("write");
    }
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(decode_binary(&bytes), Ok(expected), "{name}: typed value");
    assert_eq!(encoded, bytes, "{name}: re-encoding");
}

#[test]
fn snapshot_binary_fixture() {
    check_binary("snapshot", ServerMessage::Snapshot(expected_snapshot()));
}

#[test]
fn delta_binary_fixture() {
    check_binary("delta", ServerMessage::Delta(expected_delta()));
}

#[test]
fn the_binary_delta_fixture_starts_as_documented() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/delta.bin");
    let bytes = std::fs::read(path).expect("fixture");
    // tag, seq 43, seq - base 1, then ts (8 bytes), flags: foreign and
    // stale present, stale true.
    assert_eq!(&bytes[..3], &[0x02, 43, 1]);
    assert_eq!(bytes[11], 0b1110);
    // No phase byte; one quote delta: "ACB" and its field mask
    // (last, change, totalVolume, totalValue, asks, auction).
    assert_eq!(&bytes[12..17], &[1, 3, b'A', b'C', b'B']);
    let mask: u64 = (1 << 6) | (1 << 7) | (1 << 8) | (1 << 9) | (1 << 11) | (1 << 14);
    assert_eq!(
        &bytes[17..20],
        &[
            (mask as u8) | 0x80,
            ((mask >> 7) as u8) | 0x80,
            (mask >> 14) as u8
        ]
    );
}

#[test]
fn snapshot_fixture() {
    check_server("snapshot", ServerMessage::Snapshot(expected_snapshot()));
}

#[test]
fn snapshot_keeps_the_fixed_key_names() {
    let value = json(&encode_server(
        &ServerMessage::Snapshot(expected_snapshot()),
    ));
    for key in ["type", "seq", "ts", "quotes", "indices", "foreign"] {
        assert!(value.get(key).is_some(), "missing top-level {key}");
    }
    assert_eq!(value["quotes"][0]["symbol"], "ACB");
}

#[test]
fn pong_fixture() {
    check_server("pong", ServerMessage::Pong { id: 7 });
}

#[test]
fn error_fixture() {
    check_server(
        "error",
        ServerMessage::Error {
            code: ErrorCode::UnknownMessageType,
            message: "unknown message type \"quote\"".into(),
        },
    );
}

#[test]
fn ping_fixture() {
    check_client("ping", ClientMessage::Ping { id: 7 });
}

#[test]
fn subscribe_fixture() {
    check_client(
        "subscribe",
        ClientMessage::Subscribe {
            symbols: vec!["FPT".into(), "VNM".into()],
        },
    );
}

#[test]
fn unsubscribe_fixture() {
    check_client(
        "unsubscribe",
        ClientMessage::Unsubscribe {
            symbols: vec!["VNM".into()],
        },
    );
}

#[test]
fn unknown_error_codes_from_newer_servers_still_decode() {
    let msg =
        decode_server(br#"{"type":"error","code":"somethingNew","message":"x"}"#).expect("decodes");
    assert_eq!(
        msg,
        ServerMessage::Error {
            code: ErrorCode::Unknown,
            message: "x".into()
        }
    );
}

#[test]
fn an_auction_projection_round_trips_and_is_absent_otherwise() {
    let mut snap = expected_snapshot();
    let plain = json(&encode_server(&ServerMessage::Snapshot(snap.clone())));
    assert!(plain["quotes"][0].get("auction").is_none());
    snap.phase = TradingPhase::OpeningAuction;
    snap.quotes[0].auction = Some(marketfeed_protocol::Auction {
        price: 24_600,
        volume: 35_000,
    });
    let bytes = encode_server(&ServerMessage::Snapshot(snap.clone()));
    let value = json(&bytes);
    assert_eq!(value["quotes"][0]["auction"]["price"], 24_600);
    assert_eq!(value["quotes"][0]["auction"]["volume"], 35_000);
    assert_eq!(decode_server(&bytes), Ok(ServerMessage::Snapshot(snap)));
}
