//! `marketfeed-ingestgen` writes lines the server's ingest applies, every
//! one of them.

#![allow(clippy::unwrap_used, missing_docs)]

use std::process::Command;

use marketfeed_server::feed::ingest::LiveMarket;

#[test]
fn every_generated_line_applies() {
    let out = Command::new(env!("CARGO_BIN_EXE_marketfeed-ingestgen"))
        .args(["--symbols", "50", "--count", "5000", "--rate", "0"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let market = LiveMarket::new();
    let mut n = 0;
    for (i, line) in out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        market.apply_line(i as u64 + 1, line);
        n += 1;
    }
    assert_eq!(n, 5001, "one snapshot line and 5000 quotes");
    let stats = market.stats();
    assert_eq!(stats.applied, 5001, "refused: {:?}", stats.rejected);
    assert_eq!(market.symbols().len(), 50);
}
