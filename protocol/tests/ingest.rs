//! Ingest lines: the golden fixtures decode to the expected typed values and
//! re-encode to the same JSON; every malformed line maps to one reason.

use marketfeed_protocol::ingest::{
    ForeignUpdate, IndexUpdate, PhaseUpdate, QuoteUpdate, SnapshotUpdate, MAX_INGEST_LINE,
};
use marketfeed_protocol::{
    decode_ingest, encode_ingest, IngestError, IngestMessage, PriceLevel, TradingPhase,
};
use serde_json::Value;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/ingest/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).expect("JSON")
}

fn check(name: &str, expected: IngestMessage) {
    let bytes = fixture(name);
    let decoded = decode_ingest(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(decoded, expected, "{name}");
    assert_eq!(
        json(&encode_ingest(&decoded)),
        json(&bytes),
        "{name} re-encodes"
    );
}

#[test]
fn snapshot_fixture() {
    let acb = QuoteUpdate {
        symbol: "ACB".into(),
        reference: Some(24500),
        ceiling: Some(26200),
        floor: Some(22800),
        open: Some(24550),
        high: Some(24800),
        low: Some(24400),
        last: Some(24700),
        total_volume: Some(1_523_400),
        total_value: Some(37_541_210_000),
        bids: Some(vec![PriceLevel {
            price: 24650,
            volume: 12300,
        }]),
        asks: Some(vec![PriceLevel {
            price: 24700,
            volume: 8100,
        }]),
        foreign_buy: Some(120_000),
        foreign_sell: Some(85_000),
        ..Default::default()
    };
    let fpt = QuoteUpdate {
        symbol: "FPT".into(),
        reference: Some(118_000),
        ceiling: Some(126_200),
        floor: Some(109_800),
        ..Default::default()
    };
    check(
        "snapshot",
        IngestMessage::Snapshot(SnapshotUpdate {
            seq: None,
            ts: None,
            phase: TradingPhase::Continuous,
            quotes: vec![acb, fpt],
            indices: vec![IndexUpdate {
                code: "VNINDEX".into(),
                value: Some(128_534),
                reference: Some(127_910),
                total_volume: Some(512_345_600),
                total_value: Some(12_456_789_000_000),
                ..Default::default()
            }],
            foreign: ForeignUpdate {
                buy_volume: Some(120_000),
                sell_volume: Some(85_000),
                buy_value: Some(2_964_000_000),
                sell_value: Some(2_099_500_000),
                net_value: None,
            },
        }),
    );
}

#[test]
fn partial_update_fixtures() {
    check(
        "quote",
        IngestMessage::Quote(QuoteUpdate {
            symbol: "FPT".into(),
            last: Some(118_500),
            total_volume: Some(2300),
            total_value: Some(272_550_000),
            ..Default::default()
        }),
    );
    check(
        "index",
        IngestMessage::Index(IndexUpdate {
            code: "VNINDEX".into(),
            value: Some(128_601),
            ..Default::default()
        }),
    );
    check(
        "foreign",
        IngestMessage::Foreign(ForeignUpdate {
            buy_volume: Some(121_000),
            buy_value: Some(2_988_700_000),
            ..Default::default()
        }),
    );
    check(
        "phase",
        IngestMessage::Phase(PhaseUpdate {
            phase: TradingPhase::LunchBreak,
        }),
    );
}

#[test]
fn a_wire_snapshot_is_a_valid_ingest_snapshot() {
    // An operator may feed back what a server sent (seq/ts included).
    let path = format!(
        "{}/tests/fixtures/snapshot.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let wire = std::fs::read(path).expect("fixture");
    match decode_ingest(&wire) {
        Ok(IngestMessage::Snapshot(s)) => {
            assert_eq!(s.seq, Some(42));
            assert!(!s.quotes.is_empty());
        }
        other => panic!("{other:?}"),
    }
}

fn reason(line: &str) -> &'static str {
    match decode_ingest(line.as_bytes()) {
        Err(e) => e.label(),
        Ok(m) => panic!("{line} was accepted as {m:?}"),
    }
}

#[test]
fn each_malformed_line_has_one_reason() {
    assert_eq!(reason("not json"), "not_json");
    assert_eq!(reason("[1,2]"), "not_json");
    assert_eq!(reason(r#"{"symbol":"FPT"}"#), "not_json");
    assert_eq!(reason(r#"{"type":"trade","symbol":"FPT"}"#), "unknown_type");
    assert_eq!(
        reason(r#"{"type":"quote","symbol":"FPT","lastt":1}"#),
        "unknown_field"
    );
    assert_eq!(
        reason(r#"{"type":"quote","symbol":"FPT","last":"118500"}"#),
        "wrong_type"
    );
    assert_eq!(
        reason(r#"{"type":"quote","symbol":"FPT","last":-5}"#),
        "wrong_type"
    );
    assert_eq!(
        reason(r#"{"type":"quote","symbol":"FPT","last":1.5}"#),
        "wrong_type"
    );
    assert_eq!(reason(r#"{"type":"quote","last":1}"#), "wrong_type");
    assert_eq!(reason(r#"{"type":"phase","phase":"siesta"}"#), "wrong_type");
    let long = format!(
        r#"{{"type":"quote","symbol":"{}"}}"#,
        "A".repeat(MAX_INGEST_LINE)
    );
    assert_eq!(reason(&long), "too_long");
    assert!(matches!(
        decode_ingest(long.as_bytes()),
        Err(IngestError::TooLong { .. })
    ));
}
