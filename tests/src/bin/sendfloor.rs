//! `marketfeed-sendfloor`: the kernel's cost of writing one frame to N
//! loopback sockets, the floor for the server's fan-out time.
//!
//! Prints a human summary on stderr and one JSON line on stdout.

use clap::Parser;
use marketfeed_tests::sendfloor::{self, sink, Config};

fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    if let Some(server) = config.sink {
        if let Some(cpu) = config.sink_cpu {
            sink::pin(cpu)?;
        }
        sink::run(server, config.clients)?;
        return Ok(());
    }
    let report = sendfloor::run(&config)?;
    eprint!("{}", report.human());
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
