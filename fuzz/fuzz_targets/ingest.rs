//! Fuzzes the ingest path: `decode_ingest` and a `LiveMarket` applying
//! what it decodes, the way `--feed stdin` reads an operator's lines.
//!
//! The input is split into lines; the market first gets the golden
//! `snapshot` fixture, so quote, index and foreign lines meet a real
//! state. Checked: no panic on any bytes; a decoded
//! line re-encodes to a line that decodes to the same message; every
//! line is counted once, as applied or as refused by a labelled reason;
//! the state stays a whole snapshot of the declared universe.

#![no_main]

use libfuzzer_sys::fuzz_target;
use marketfeed_protocol::decode_ingest;
use marketfeed_protocol::ingest::encode_ingest;
use marketfeed_server::feed::ingest::LiveMarket;

/// The universe line every run starts from: the protocol's golden
/// `snapshot` ingest fixture.
fn universe() -> &'static [u8] {
    include_bytes!("../../protocol/tests/fixtures/ingest/snapshot.json").trim_ascii_end()
}

fuzz_target!(|data: &[u8]| {
    let market = LiveMarket::new();
    market.apply_line(1, universe());
    let symbols = market.symbols();
    assert!(!symbols.is_empty(), "the universe line applies");
    let mut lines = 1u64;
    for line in data.split(|&b| b == b'\n') {
        if let Ok(msg) = decode_ingest(line) {
            let again = encode_ingest(&msg);
            let back = decode_ingest(&again).expect("an encoded line decodes");
            assert_eq!(back, msg, "round trip changed the line");
        }
        lines += 1;
        market.apply_line(lines, line);
    }
    let stats = market.stats();
    assert_eq!(stats.lines, lines);
    let refused: u64 = stats.rejected.values().sum();
    assert_eq!(stats.applied + refused, lines, "{stats:?}");
    let snapshot = market.snapshot().expect("the universe stays declared");
    let now: Vec<&str> = snapshot.quotes.iter().map(|q| q.symbol.as_str()).collect();
    assert_eq!(now.len(), market.symbols().len());
});
