//! `marketfeed-ingestgen`: valid ingest lines on stdout for a declared
//! universe, at a steady rate, so ingest throughput can be measured:
//! `marketfeed-ingestgen --rate 100000 | marketfeed-server --feed stdin`.
//!
//! It first writes one `snapshot` line declaring `--symbols` stocks (`S000`,
//! `S001`, …, reference 10,000 with the HOSE ±7 % band), then `quote` lines
//! round-robin over the universe — each a new last price inside the band
//! and a growing session volume, so every line applies — paced in batches
//! of a millisecond, until `--count` lines (0: forever) or a closed pipe.

use std::io::{self, BufWriter, Write};
use std::time::{Duration, Instant};

use clap::Parser;

/// Reference price of every generated stock.
const REFERENCE: u64 = 10_000;
const CEILING: u64 = 10_700;
const FLOOR: u64 = 9_300;

#[derive(Debug, Parser)]
#[command(
    name = "marketfeed-ingestgen",
    about = "Writes valid ingest lines at a steady rate"
)]
struct Args {
    /// Quote updates per second (0: as fast as the pipe takes them).
    #[arg(long, default_value_t = 100_000)]
    rate: u64,
    /// Stocks in the declared universe.
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    symbols: u64,
    /// Quote lines to write before exiting (0: forever).
    #[arg(long, default_value_t = 0)]
    count: u64,
}

fn main() -> io::Result<()> {
    let args = Args::parse();
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    let quotes: Vec<String> = (0..args.symbols)
        .map(|i| {
            format!(r#"{{"symbol":"S{i:03}","reference":{REFERENCE},"ceiling":{CEILING},"floor":{FLOOR}}}"#)
        })
        .collect();
    writeln!(
        out,
        r#"{{"type":"snapshot","phase":"continuous","quotes":[{}],"indices":[],"foreign":{{}}}}"#,
        quotes.join(",")
    )?;
    out.flush()?;
    let started = Instant::now();
    let mut written = 0u64;
    let mut volume = vec![0u64; usize::try_from(args.symbols).unwrap_or(usize::MAX)];
    while args.count == 0 || written < args.count {
        // Lines due by now at the asked rate, in one batch.
        let due = if args.rate == 0 {
            written + 1000
        } else {
            let elapsed = started.elapsed().as_secs_f64();
            (elapsed * args.rate as f64) as u64 + 1
        };
        let due = if args.count == 0 {
            due
        } else {
            due.min(args.count)
        };
        while written < due {
            let i = (written % args.symbols) as usize;
            volume[i] += 100;
            // Walks the band in steps of 50 (a valid HOSE tick on both sides of 10,000).
            let last = FLOOR + ((written / args.symbols) * 50 + i as u64 * 50) % (CEILING - FLOOR);
            if let Err(e) = writeln!(
                out,
                r#"{{"type":"quote","symbol":"S{i:03}","last":{last},"totalVolume":{}}}"#,
                volume[i]
            ) {
                return quiet_pipe(e);
            }
            written += 1;
        }
        if let Err(e) = out.flush() {
            return quiet_pipe(e);
        }
        if args.rate != 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    Ok(())
}

/// A reader that went away ends the run without an error.
fn quiet_pipe(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}
