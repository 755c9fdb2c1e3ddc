//! The wire vocabulary has one definition: the constants of the protocol
//! crate agree with what serde writes, and the README's close-code table is
//! the one generated from [`CloseCode::TABLE`].

use marketfeed_protocol::close::markdown_table;
use marketfeed_protocol::{
    encode_client, encode_server, kind, ClientMessage, Delta, ErrorCode, ForeignFlow, Hello,
    MarketSnapshot, ServerMessage, TradingPhase,
};
use serde_json::Value;

fn type_of(json: &[u8]) -> String {
    let value: Value = serde_json::from_slice(json).expect("JSON");
    value["type"].as_str().expect("type").to_owned()
}

#[test]
fn message_kinds_are_what_serde_writes() {
    let server = [
        ServerMessage::Hello(Hello {
            protocol_version: 1,
            heartbeat_interval_ms: 1,
            tick_interval_ms: 1,
            symbols: vec![],
            format: String::new(),
            epoch: 0,
        }),
        ServerMessage::Snapshot(MarketSnapshot {
            seq: 1,
            ts: 1,
            phase: TradingPhase::Continuous,
            quotes: vec![],
            indices: vec![],
            foreign: ForeignFlow::default(),
            stale: false,
        }),
        ServerMessage::Delta(Delta {
            seq: 2,
            ts: 2,
            base: 1,
            phase: None,
            quotes: vec![],
            indices: vec![],
            foreign: None,
            stale: None,
        }),
        ServerMessage::Subscribed { symbols: vec![] },
        ServerMessage::Pong { id: 1 },
        ServerMessage::Error {
            code: ErrorCode::Unsupported,
            message: String::new(),
        },
    ];
    let written: Vec<String> = server.iter().map(|m| type_of(&encode_server(m))).collect();
    assert_eq!(written, kind::SERVER);
    for m in &server {
        assert_eq!(type_of(&encode_server(m)), m.kind());
    }
    let client = [
        ClientMessage::Ping { id: 1 },
        ClientMessage::Subscribe { symbols: vec![] },
        ClientMessage::Unsubscribe { symbols: vec![] },
        ClientMessage::Resync,
    ];
    let written: Vec<String> = client.iter().map(|m| type_of(&encode_client(m))).collect();
    assert_eq!(written, kind::CLIENT);
    for m in &client {
        assert_eq!(type_of(&encode_client(m)), m.kind());
    }
}

#[test]
fn error_code_spellings_are_what_serde_writes() {
    for code in ErrorCode::ALL.into_iter().chain([ErrorCode::Unknown]) {
        let json = serde_json::to_value(code).expect("serializes");
        assert_eq!(json.as_str(), Some(code.as_str()));
    }
}

#[test]
fn error_codes_and_message_kinds_are_distinct() {
    let mut codes: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert!(codes.contains(&"unknownSymbol") && codes.contains(&"tooManySymbols"));
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), ErrorCode::ALL.len());
    let mut kinds: Vec<&str> = kind::SERVER.iter().chain(&kind::CLIENT).copied().collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), kind::SERVER.len() + kind::CLIENT.len());
}

#[test]
fn readme_close_code_table_is_generated_from_the_enum() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    let readme = std::fs::read_to_string(path).expect("README.md");
    let begin = "<!-- close-codes:begin -->\n";
    let end = "<!-- close-codes:end -->";
    let start = readme
        .find(begin)
        .expect("README has the close-code markers")
        + begin.len();
    let stop = readme[start..].find(end).expect("end marker") + start;
    let expected = markdown_table();
    assert_eq!(
        &readme[start..stop],
        expected,
        "README's close-code table differs from CloseCode::TABLE; paste this between the markers:\n{expected}"
    );
}
