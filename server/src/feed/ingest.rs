//! A live feed from an ingest stream: a task reads newline-delimited JSON
//! ingest lines (the operator's process on stdin, or any reader), applies
//! each to a shared [`MarketState`], and the ticker samples that state once
//! per tick — however fast lines arrive, clients get one snapshot per tick
//! with the newest state.
//!
//! A bad line (not JSON, unknown type or field, wrong type, over
//! [`MAX_INGEST_LINE`], unknown symbol, price out of band, volume going
//! down) is refused: the state is untouched, the refusal is counted by
//! reason ([`IngestStats::rejected`]) and logged with its line number at a
//! limited rate. The next good line applies normally. A line over the limit
//! is skipped to its newline without being buffered.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use marketfeed_protocol::ingest::MAX_INGEST_LINE;
use marketfeed_protocol::{decode_ingest, MarketSnapshot};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};
use tokio::time::Instant;

use super::market::MarketState;

/// Least time between two "refused line" log lines.
const REJECT_LOG_EVERY: Duration = Duration::from_secs(1);

/// Counters of one ingest stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    /// Lines read (good and bad).
    pub lines: u64,
    /// Lines applied.
    pub applied: u64,
    /// Lines refused, by reason label.
    pub rejected: BTreeMap<&'static str, u64>,
    /// The input ended (end of file, stdin closed).
    pub ended: bool,
}

#[derive(Debug, Default)]
struct State {
    market: MarketState,
    stats: IngestStats,
    /// When the last line was applied.
    last_applied: Option<Instant>,
    /// Refusals not yet logged, and when the last log line was written.
    unlogged: u64,
    last_log: Option<Instant>,
}

/// The shared market of a live feed; clone freely (one handle for the
/// reading task, one for the ticker, one for metrics).
#[derive(Debug, Clone, Default)]
pub struct LiveMarket {
    state: Arc<Mutex<State>>,
}

impl LiveMarket {
    /// An empty market, waiting for its first `snapshot` line.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current state as a snapshot; `None` until a `snapshot` line has
    /// declared the universe.
    pub fn snapshot(&self) -> Option<MarketSnapshot> {
        let state = self.lock();
        state.market.has_universe().then(|| state.market.snapshot())
    }

    /// The symbols of the universe (empty before the first snapshot line).
    pub fn symbols(&self) -> Vec<String> {
        self.lock().market.symbols()
    }

    /// A copy of the counters.
    pub fn stats(&self) -> IngestStats {
        self.lock().stats.clone()
    }

    /// How long ago the last line was applied; `None` before the first.
    pub fn since_last_update(&self) -> Option<Duration> {
        self.lock().last_applied.map(|t| t.elapsed())
    }

    /// Applies one line (without its newline); `line_no` counts from 1.
    pub fn apply_line(&self, line_no: u64, line: &[u8]) {
        let decoded = decode_ingest(line);
        let mut state = self.lock();
        state.stats.lines += 1;
        let result = match decoded {
            Ok(msg) => state
                .market
                .apply(&msg)
                .map_err(|e| (e.label(), e.to_string())),
            Err(e) => Err((e.label(), e.to_string())),
        };
        match result {
            Ok(()) => {
                state.stats.applied += 1;
                state.last_applied = Some(Instant::now());
            }
            Err((label, detail)) => state.refuse(line_no, label, &detail),
        }
    }

    /// Counts a line over [`MAX_INGEST_LINE`], which was skipped unread.
    fn refuse_too_long(&self, line_no: u64, len: usize) {
        let mut state = self.lock();
        state.stats.lines += 1;
        let detail =
            format!("line of at least {len} bytes exceeds the {MAX_INGEST_LINE} byte limit");
        state.refuse(line_no, "too_long", &detail);
    }

    fn end(&self) {
        self.lock().stats.ended = true;
    }
}

impl State {
    fn refuse(&mut self, line_no: u64, label: &'static str, detail: &str) {
        *self.stats.rejected.entry(label).or_insert(0) += 1;
        self.unlogged += 1;
        let now = Instant::now();
        if self
            .last_log
            .is_none_or(|t| now.duration_since(t) >= REJECT_LOG_EVERY)
        {
            let suppressed = self.unlogged - 1;
            tracing::warn!(
                line = line_no,
                reason = label,
                suppressed,
                "ingest line refused: {detail}"
            );
            self.unlogged = 0;
            self.last_log = Some(now);
        }
    }
}

/// Reads ingest lines from `input` into `market` until the input ends or
/// fails. The caller decides what end of input means (the server keeps
/// serving the last state).
pub async fn read_lines<R: AsyncBufRead + Unpin>(mut input: R, market: LiveMarket) {
    let mut line = Vec::new();
    let mut line_no = 0u64;
    // Bytes of the current line seen so far, when it is being skipped
    // because it is over the limit.
    let mut skipping: Option<usize> = None;
    loop {
        let chunk = match input.fill_buf().await {
            Ok([]) => break,
            Ok(chunk) => chunk,
            Err(e) => {
                tracing::warn!(error = %e, "ingest input failed");
                break;
            }
        };
        let (part, newline) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], true),
            None => (chunk, false),
        };
        let consumed = part.len() + usize::from(newline);
        match skipping.as_mut() {
            Some(seen) => *seen += part.len(),
            None if line.len() + part.len() > MAX_INGEST_LINE => {
                skipping = Some(line.len() + part.len());
                line = Vec::new();
            }
            None => line.extend_from_slice(part),
        }
        input.consume(consumed);
        if newline {
            line_no += 1;
            finish_line(&market, line_no, &mut line, skipping.take());
        }
    }
    if !line.is_empty() || skipping.is_some() {
        line_no += 1;
        finish_line(&market, line_no, &mut line, skipping.take());
    }
    market.end();
    tracing::info!(
        lines = line_no,
        "ingest input ended; serving the last state"
    );
}

fn finish_line(market: &LiveMarket, line_no: u64, line: &mut Vec<u8>, skipped: Option<usize>) {
    if let Some(len) = skipped {
        market.refuse_too_long(line_no, len);
    } else {
        let text = line.strip_suffix(b"\r").unwrap_or(line);
        if !text.iter().all(u8::is_ascii_whitespace) {
            market.apply_line(line_no, text);
        }
    }
    line.clear();
    if line.capacity() > 4 * 1024 {
        line.shrink_to(4 * 1024);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use tokio::io::{AsyncWriteExt, BufReader};

    use super::*;

    const UNIVERSE: &str = r#"{"type":"snapshot","phase":"continuous","quotes":[{"symbol":"FPT","reference":118000,"ceiling":126200,"floor":109800}]}"#;

    async fn feed(input: &[u8]) -> LiveMarket {
        let market = LiveMarket::new();
        read_lines(BufReader::with_capacity(64, input), market.clone()).await;
        market
    }

    #[tokio::test]
    async fn lines_apply_in_order_and_bad_ones_are_counted() {
        let text = format!(
            "{UNIVERSE}\n\
             {{\"type\":\"quote\",\"symbol\":\"FPT\",\"last\":118500}}\n\
             not json\n\
             \n\
             {{\"type\":\"quote\",\"symbol\":\"XYZ\",\"last\":1}}\r\n\
             {{\"type\":\"quote\",\"symbol\":\"FPT\",\"last\":119000}}"
        );
        let market = feed(text.as_bytes()).await;
        let stats = market.stats();
        assert_eq!(stats.lines, 5, "the blank line is not a line of data");
        assert_eq!(stats.applied, 3);
        assert_eq!(stats.rejected.get("not_json"), Some(&1));
        assert_eq!(stats.rejected.get("unknown_symbol"), Some(&1));
        assert!(stats.ended);
        assert_eq!(market.snapshot().unwrap().quotes[0].last, 119_000);
    }

    #[tokio::test]
    async fn an_oversize_line_is_skipped_unbuffered_and_the_next_applies() {
        let long = format!(
            "{{\"type\":\"quote\",\"symbol\":\"FPT\",\"x\":\"{}\"}}",
            "a".repeat(MAX_INGEST_LINE * 3)
        );
        let text = format!(
            "{UNIVERSE}\n{long}\n{{\"type\":\"quote\",\"symbol\":\"FPT\",\"last\":118500}}\n"
        );
        let market = feed(text.as_bytes()).await;
        let stats = market.stats();
        assert_eq!(stats.rejected.get("too_long"), Some(&1));
        assert_eq!(stats.applied, 2);
        assert_eq!(market.snapshot().unwrap().quotes[0].last, 118_500);
    }

    #[tokio::test]
    async fn nothing_to_serve_before_the_first_snapshot_line() {
        let (mut tx, rx) = tokio::io::duplex(1024);
        let market = LiveMarket::new();
        let task = tokio::spawn(read_lines(BufReader::new(rx), market.clone()));
        tx.write_all(b"{\"type\":\"phase\",\"phase\":\"closed\"}\n")
            .await
            .unwrap();
        tokio::task::yield_now().await;
        while market.stats().lines < 1 {
            tokio::task::yield_now().await;
        }
        assert!(market.snapshot().is_none());
        assert_eq!(market.stats().rejected.get("no_universe"), Some(&1));
        tx.write_all(format!("{UNIVERSE}\n").as_bytes())
            .await
            .unwrap();
        drop(tx);
        task.await.unwrap();
        assert_eq!(market.symbols(), ["FPT"]);
        assert!(market.since_last_update().is_some());
    }
}
