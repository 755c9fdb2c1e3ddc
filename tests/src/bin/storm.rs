//! `marketfeed-storm`: clients that reconnect like the web client, for
//! `scripts/storm.sh` and `scripts/soak.sh`. One JSON line per event on
//! stdout.

use clap::Parser;
use marketfeed_tests::storm::{self, Config};

fn main() -> anyhow::Result<()> {
    storm::run(&Config::parse())?;
    Ok(())
}
