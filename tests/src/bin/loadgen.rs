//! `marketfeed-loadgen`: N WebSocket clients against a marketfeed server.
//!
//! Prints a human summary on stderr and one JSON line on stdout.

use clap::Parser;
use marketfeed_tests::loadgen::{self, Config};

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    let report = loadgen::run(&config)?;
    eprint!("{}", report.human());
    println!("{}", report.json());
    Ok(())
}
