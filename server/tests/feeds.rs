//! The feed sources through the binary: ingest lines on stdin, refusals,
//! end of input and staleness, record and replay, any universe, the CSV
//! adapter, the compressed HOSE day, and the feed flags' errors. Real
//! processes, real sockets, bounded waits.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use marketfeed_protocol::{decode_server, MarketSnapshot, ServerMessage, TradingPhase};
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

mod common;

use common::BIN;
const WAIT: Duration = Duration::from_secs(10);

struct Server {
    child: Child,
    addr: String,
    stdin: Option<ChildStdin>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(args: &[&str], stdin: Stdio) -> Server {
    let (mut child, addr) = common::spawn(args, stdin);
    let stdin = child.stdin.take();
    Server { child, addr, stdin }
}

impl Server {
    fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn get(&self, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
        (status, body)
    }

    /// The value of one metric line (`name{labels}` as written).
    fn metric(&self, name: &str) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing in\n{body}"))
    }

    fn wait_for(&self, what: &str, ok: impl Fn(&Self) -> bool) {
        let end = Instant::now() + WAIT;
        while !ok(self) {
            assert!(Instant::now() < end, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn client(&self) -> Client {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            s,
            "GET /ws/market HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.addr
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        assert!(
            head.starts_with(b"HTTP/1.1 101"),
            "{}",
            String::from_utf8_lossy(&head)
        );
        let ws = WebSocket::from_raw_socket(s, Role::Client, None);
        Client { ws }
    }
}

struct Client {
    ws: WebSocket<TcpStream>,
}

impl Client {
    fn next(&mut self) -> ServerMessage {
        loop {
            match self.ws.read().unwrap() {
                Message::Text(t) => return decode_server(t.as_bytes()).unwrap(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    fn hello_symbols(&mut self) -> Vec<String> {
        match self.next() {
            ServerMessage::Hello(h) => h.symbols,
            other => panic!("expected hello, got {other:?}"),
        }
    }

    fn snapshot(&mut self) -> MarketSnapshot {
        loop {
            if let ServerMessage::Snapshot(s) = self.next() {
                return s;
            }
        }
    }

    /// Snapshots until one satisfies `ok` (bounded by `WAIT`).
    fn snapshot_where(
        &mut self,
        what: &str,
        ok: impl Fn(&MarketSnapshot) -> bool,
    ) -> MarketSnapshot {
        let end = Instant::now() + WAIT;
        loop {
            let s = self.snapshot();
            if ok(&s) {
                return s;
            }
            assert!(Instant::now() < end, "no snapshot with {what}; last {s:?}");
        }
    }
}

const UNIVERSE: &str = r#"{"type":"snapshot","phase":"continuous","quotes":[{"symbol":"ACB","reference":24500,"ceiling":26200,"floor":22800},{"symbol":"FPT","reference":118000,"ceiling":126200,"floor":109800}],"indices":[],"foreign":{}}"#;

fn last(s: &MarketSnapshot, symbol: &str) -> u64 {
    s.quotes.iter().find(|q| q.symbol == symbol).unwrap().last
}

fn stdin_server(extra: &[&str]) -> Server {
    let mut args = vec!["--feed", "stdin", "--tick-interval", "100ms"];
    args.extend_from_slice(extra);
    spawn(&args, Stdio::piped())
}

#[test]
fn stdin_partial_updates_reach_a_client_at_the_next_tick() {
    let mut server = stdin_server(&[]);
    assert_eq!(server.get("/readyz"), (503, "no snapshot yet\n".into()));
    // Every refusal reason is exported from the start, at 0.
    for reason in marketfeed_server::feed::REJECT_REASONS {
        let metric = format!("marketfeed_feed_rejected_total{{reason=\"{reason}\"}}");
        assert_eq!(server.metric(&metric), 0.0, "{metric}");
    }
    assert_eq!(server.metric("marketfeed_feed_stale"), 0.0);
    assert_eq!(server.metric("marketfeed_feed_ended"), 0.0);
    server.send(UNIVERSE);
    server.wait_for("first snapshot", |s| s.get("/readyz").0 == 200);
    let mut client = server.client();
    assert_eq!(client.hello_symbols(), ["ACB", "FPT"]);
    server.send(r#"{"type":"quote","symbol":"FPT","last":118500,"totalVolume":2300,"totalValue":272550000}"#);
    let s = client.snapshot_where("FPT at 118500", |s| last(s, "FPT") == 118_500);
    assert_eq!(
        s.quotes
            .iter()
            .find(|q| q.symbol == "FPT")
            .unwrap()
            .total_volume,
        2300
    );
    assert!(!s.stale);
}

#[test]
fn every_bad_line_is_refused_counted_and_the_next_good_line_applies() {
    let mut server = stdin_server(&[]);
    server.send(UNIVERSE);
    server.wait_for("first snapshot", |s| s.get("/readyz").0 == 200);
    let mut client = server.client();
    client.hello_symbols();
    let huge = format!(
        r#"{{"type":"quote","symbol":"ACB","pad":"{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let cases: [(&str, &str); 10] = [
        ("not_json", "this is not json"),
        ("unknown_type", r#"{"type":"trade","symbol":"ACB"}"#),
        (
            "unknown_field",
            r#"{"type":"quote","symbol":"ACB","lats":24600}"#,
        ),
        (
            "wrong_type",
            r#"{"type":"quote","symbol":"ACB","last":"24600"}"#,
        ),
        ("too_long", &huge),
        (
            "unknown_symbol",
            r#"{"type":"quote","symbol":"ZZZ","last":24600}"#,
        ),
        ("bad_price", r#"{"type":"quote","symbol":"ACB","last":0}"#),
        ("wrong_type", r#"{"type":"quote","symbol":"ACB","last":-5}"#),
        (
            "out_of_band",
            r#"{"type":"quote","symbol":"ACB","last":30000}"#,
        ),
        (
            "volume_decreased",
            r#"{"type":"quote","symbol":"ACB","totalVolume":10}"#,
        ),
    ];
    server.send(r#"{"type":"quote","symbol":"ACB","last":24600,"totalVolume":1000}"#);
    client.snapshot_where("ACB at 24600", |s| last(s, "ACB") == 24_600);
    let mut good = 24_600;
    for (reason, bad) in cases {
        let metric = format!("marketfeed_feed_rejected_total{{reason=\"{reason}\"}}");
        let before = server.metric(&metric);
        server.send(bad);
        good += 50;
        server.send(&format!(
            r#"{{"type":"quote","symbol":"ACB","last":{good},"totalVolume":1000}}"#
        ));
        // Every snapshot until the good line shows holds only good values.
        let s = client.snapshot_where(&format!("ACB at {good} after {reason}"), |s| {
            let acb = &s.quotes[0];
            assert!(
                (22_800..=26_200).contains(&acb.last) && acb.total_volume == 1000,
                "{reason}: a bad value reached a client: {acb:?}"
            );
            assert_eq!(s.quotes.len(), 2);
            acb.last == good
        });
        assert_eq!(s.quotes[0].total_volume, 1000, "{reason}");
        server.wait_for(&metric, |s| s.metric(&metric) == before + 1.0);
    }
    // Every snapshot a client saw held only good values: the band holds.
    assert!(server.metric("marketfeed_feed_lines_total") >= 22.0);
}

#[test]
fn end_of_input_keeps_serving_the_last_state() {
    let mut server = stdin_server(&[]);
    server.send(UNIVERSE);
    server.send(r#"{"type":"quote","symbol":"ACB","last":24900}"#);
    server.wait_for("first snapshot", |s| s.get("/readyz").0 == 200);
    drop(server.stdin.take());
    server.wait_for("feed ended", |s| {
        s.get("/readyz") == (503, "feed ended\n".into())
    });
    assert_eq!(server.metric("marketfeed_feed_ended"), 1.0);
    assert_eq!(server.metric("marketfeed_ready"), 0.0);
    let mut client = server.client();
    client.hello_symbols();
    let a = client.snapshot();
    let b = client.snapshot();
    assert!(b.seq > a.seq);
    assert_eq!(last(&b, "ACB"), 24_900);
    // Ended while the phase says the market trades: clients can tell.
    assert!(b.stale);
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the server exited"
    );
}

#[test]
fn a_silent_feed_turns_stale_and_a_new_line_makes_it_fresh() {
    let mut server = stdin_server(&["--feed-stale-after", "300ms"]);
    server.send(UNIVERSE);
    server.wait_for("first snapshot", |s| s.get("/readyz").0 == 200);
    let mut client = server.client();
    client.hello_symbols();
    server.wait_for("stale", |s| {
        s.get("/readyz") == (503, "feed stale\n".into())
    });
    assert_eq!(server.metric("marketfeed_feed_stale"), 1.0);
    assert!(server.metric("marketfeed_feed_last_update_age_seconds") >= 0.3);
    client.snapshot_where("stale:true", |s| s.stale);
    server.send(r#"{"type":"quote","symbol":"FPT","last":118100}"#);
    let s = client.snapshot_where("fresh FPT", |s| last(s, "FPT") == 118_100 && !s.stale);
    assert!(!s.stale);
    server.wait_for("fresh", |s| s.get("/readyz").0 == 200);
    assert_eq!(server.metric("marketfeed_feed_stale"), 0.0);
}

#[test]
fn a_400_symbol_universe_reaches_a_client() {
    let mut server = stdin_server(&[]);
    let quotes: Vec<String> = (0..400)
        .map(|i| {
            format!(r#"{{"symbol":"S{i:03}","reference":10000,"ceiling":10700,"floor":9300}}"#)
        })
        .collect();
    server.send(&format!(
        r#"{{"type":"snapshot","phase":"continuous","quotes":[{}],"indices":[],"foreign":{{}}}}"#,
        quotes.join(",")
    ));
    server.wait_for("first snapshot", |s| s.get("/readyz").0 == 200);
    let mut client = server.client();
    let symbols = client.hello_symbols();
    assert_eq!(symbols.len(), 400);
    assert_eq!(symbols[399], "S399");
    let s = client.snapshot();
    assert_eq!(s.quotes.len(), 400);
    // A later snapshot line changes the universe for new clients.
    server.send(UNIVERSE);
    server.wait_for("new universe", |s| {
        s.client().hello_symbols() == ["ACB", "FPT"]
    });
}

#[test]
fn a_recording_replays_the_same_snapshots_in_order() {
    let dir = std::env::temp_dir().join(format!("marketfeed-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("day.jsonl");
    let _ = std::fs::remove_file(&file);
    let path = file.to_str().unwrap();
    {
        let server = spawn(
            &[
                "--tick-interval",
                "50ms",
                "--sim-schedule",
                "hose-compressed:5s",
                "--record",
                path,
            ],
            Stdio::null(),
        );
        server.wait_for("20 ticks", |s| s.metric("marketfeed_ticks_total") >= 20.0);
    }
    let recorded: Vec<MarketSnapshot> = std::fs::read_to_string(&file)
        .unwrap()
        .lines()
        .map(|l| match decode_server(l.as_bytes()).unwrap() {
            ServerMessage::Snapshot(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(recorded.len() >= 20);
    let replayed_file = dir.join("replayed.jsonl");
    let _ = std::fs::remove_file(&replayed_file);
    let server = spawn(
        &[
            "--feed",
            &format!("replay:{path}"),
            "--replay-speed",
            "max",
            "--record",
            replayed_file.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    server.wait_for("replay ended", |s| {
        s.get("/readyz") == (503, "feed ended\n".into())
    });
    let replayed: Vec<MarketSnapshot> = std::fs::read_to_string(&replayed_file)
        .unwrap()
        .lines()
        .map(|l| match decode_server(l.as_bytes()).unwrap() {
            ServerMessage::Snapshot(s) => s,
            other => panic!("{other:?}"),
        })
        .collect();
    let strip = |s: &MarketSnapshot| (s.phase, s.quotes.clone(), s.indices.clone(), s.foreign);
    assert!(replayed.len() >= recorded.len());
    for (i, (a, b)) in recorded.iter().zip(&replayed).enumerate() {
        assert_eq!(strip(a), strip(b), "snapshot {i}");
    }
    // After the end, the last state is served at the tick interval.
    assert_eq!(
        strip(replayed.last().unwrap()),
        strip(recorded.last().unwrap())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shipped_recording_replays() {
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/hose-day.jsonl");
    let server = spawn(
        &[
            "--feed",
            &format!("replay:{file}"),
            "--replay-speed",
            "max",
            "--tick-interval",
            "50ms",
        ],
        Stdio::null(),
    );
    server.wait_for("replay ended", |s| {
        s.get("/readyz") == (503, "feed ended\n".into())
    });
    let mut client = server.client();
    assert_eq!(client.hello_symbols().len(), 30);
    assert_eq!(client.snapshot().quotes.len(), 30);
    assert!(server.metric("marketfeed_ticks_total") >= 150.0);
}

#[test]
fn the_csv_adapter_feeds_the_server() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/ingest-csv");
    let mut adapter = Command::new("python3")
        .arg(format!("{root}/adapter.py"))
        .arg(format!("{root}/reference.csv"))
        .arg(format!("{root}/ticks.csv"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let server = spawn(
        &["--feed", "stdin", "--tick-interval", "100ms"],
        Stdio::from(adapter.stdout.take().unwrap()),
    );
    server.wait_for("adapter's input ended", |s| {
        s.get("/readyz") == (503, "feed ended\n".into())
    });
    assert!(adapter.wait().unwrap().success());
    let (_, metrics) = server.get("/metrics");
    let refused: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("marketfeed_feed_rejected_total{") && !l.ends_with(" 0"))
        .collect();
    assert!(
        refused.is_empty(),
        "the adapter's lines were refused: {refused:?}"
    );
    let ticks = std::fs::read_to_string(format!("{root}/ticks.csv")).unwrap();
    let mut expected = std::collections::BTreeMap::new();
    for row in ticks.lines().skip(1) {
        let f: Vec<&str> = row.split(',').collect();
        if f[2] == "trade" {
            expected.insert(f[1].to_owned(), f[3].parse::<u64>().unwrap());
        }
    }
    assert!(!expected.is_empty());
    let mut client = server.client();
    client.hello_symbols();
    let s = client.snapshot();
    for (symbol, price) in expected {
        assert_eq!(last(&s, &symbol), price, "{symbol}");
    }
}

#[test]
fn a_compressed_day_changes_phase() {
    let server = spawn(
        &[
            "--tick-interval",
            "100ms",
            "--sim-schedule",
            "hose-compressed:20s",
        ],
        Stdio::null(),
    );
    let mut client = server.client();
    client.hello_symbols();
    let first = client.snapshot().phase;
    let other = client.snapshot_where("another phase", |s| s.phase != first);
    assert_ne!(other.phase, first);
    let _: TradingPhase = other.phase;
}

fn fails_with(args: &[&str], expected: &str) {
    let out = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got {stderr:?}"
    );
    assert!(
        stderr.contains(expected),
        "{args:?}: {stderr:?} lacks {expected:?}"
    );
}

#[test]
fn bad_feed_flags_give_one_line() {
    fails_with(&["--feed", "bogus"], "unknown feed");
    fails_with(&["--feed", "replay:/no/such/file"], "/no/such/file");
    fails_with(&["--replay-speed", "0"], "invalid replay speed");
    fails_with(&["--record", "/no/such/dir/x"], "/no/such/dir/x");
    fails_with(&["--sim-schedule", "hose-compressed:0s"], "more than 0s");
    let empty = std::env::temp_dir().join(format!("marketfeed-empty-{}.jsonl", std::process::id()));
    std::fs::write(&empty, "").unwrap();
    fails_with(
        &["--feed", &format!("replay:{}", empty.display())],
        "no recorded snapshot",
    );
    let _ = std::fs::remove_file(&empty);
}
