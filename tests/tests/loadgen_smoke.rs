//! Seconds-long smoke of the load generator.
//!
//! * Against the real server (library, port 0, 50 ms ticks): the
//!   `marketfeed-loadgen` binary runs 20 clients for ~3 s and its JSON line
//!   must show every client connected, messages received and no gaps.
//! * With `--subscribe`, two `--subprotocol`s and `--scrape-metrics`:
//!   every client subscribed, and the server's encodes per tick are the
//!   six (format, set) pairs.
//! * Against tokio-tungstenite's server side: the hand-written client
//!   handshake and frame parser interoperate, and a server ping is answered
//!   with a masked pong.

use std::process::Command;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use marketfeed_tests::loadgen::conn::{Conn, RxTime};
use marketfeed_tests::loadgen::handshake;
use marketfeed_tests::loadgen::stats::Stats;
use tokio::io::AsyncReadExt;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

/// A server on port 0 with 50 ms ticks, and its WebSocket URL.
async fn fast_server() -> (marketfeed_server::Server, String) {
    let mut config = marketfeed_server::Config::with_defaults();
    config.tick_interval = Duration::from_millis(50);
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let server = marketfeed_server::Server::start(config, listener).expect("server starts");
    let url = format!("ws://{}/ws/market", server.local_addr());
    (server, url)
}

/// Runs the load generator against `url` with `args` (a 300 ms warm-up,
/// 1,000 connects/s); its JSON report and its stderr. A run that fails is a test failure unless
/// `may_fail`.
async fn run_loadgen(url: &str, args: &[&str], may_fail: bool) -> (serde_json::Value, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_marketfeed-loadgen"));
    cmd.args(["--url", url, "--warmup", "300ms", "--ramp-rate", "1000"])
        .args(args);
    let run = tokio::task::spawn_blocking(move || cmd.output());
    let out = timeout(Duration::from_secs(15), run)
        .await
        .expect("load generator finishes in time")
        .expect("join")
        .expect("load generator runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(may_fail || out.status.success(), "loadgen failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().expect("a JSON line");
    (
        serde_json::from_str(line).expect("JSON line parses"),
        stderr,
    )
}

/// A count from the report (`u64::MAX` when absent).
fn num(report: &serde_json::Value, key: &str) -> u64 {
    report[key].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_against_the_real_server() {
    let (server, url) = fast_server().await;
    let pid = std::process::id().to_string();
    let args = ["--clients", "20", "--duration", "3s", "--label", "smoke"];
    let (report, stderr) =
        run_loadgen(&url, &[&args[..], &["--server-pid", &pid]].concat(), false).await;
    server.shutdown().await;
    let num = |k: &str| num(&report, k);
    assert_eq!(num("connected"), 20, "{stderr}");
    assert_eq!(num("connect_failures"), 0, "{stderr}");
    assert_eq!(num("disconnects"), 0, "{stderr}");
    assert_eq!(num("gaps"), 0, "{stderr}");
    assert_eq!(num("invalid_msgs"), 0, "{stderr}");
    assert_eq!(num("tick_interval_ms"), 50);
    assert!(num("messages") > 20 * 20, "{stderr}");
    assert!(report["latency_kernel_us"]["count"].as_u64() > Some(0));
    assert!(report["server"]["rss_connected_kib"].as_u64() > Some(0));
    assert!(stderr.contains("latency (kernel rx)"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_speaks_each_format_and_counts_binary_frames_and_wire_bytes() {
    let (server, url) = fast_server().await;
    let mut per_client_s = Vec::new();
    for format in [None, Some("marketfeed.v2.json"), Some("marketfeed.v2.bin")] {
        let mut args = vec!["--clients", "5", "--duration", "2s"];
        args.extend(format.iter().flat_map(|p| ["--subprotocol", p]));
        let (r, _) = run_loadgen(&url, &args, false).await;
        let num = |k: &str| num(&r, k);
        assert_eq!(num("connected"), 5, "{format:?}: {r}");
        assert_eq!(num("gaps"), 0, "{format:?}: {r}");
        assert_eq!(num("invalid_msgs"), 0, "{format:?}: {r}");
        assert!(num("messages") > 5 * 20, "{format:?}: {r}");
        assert_eq!(r["subprotocol"].as_str(), format, "{r}");
        let binary = num("binary_messages");
        if format == Some("marketfeed.v2.bin") {
            assert_eq!(binary, num("messages"), "every market message binary: {r}");
        } else {
            assert_eq!(binary, 0, "{format:?}: {r}");
        }
        assert!(num("wire_bytes") > num("messages"), "{r}");
        per_client_s.push(r["wire_bytes_per_client_s"].as_f64().unwrap_or(0.0));
    }
    // Full JSON > JSON deltas > binary deltas, by a wide margin.
    assert!(
        per_client_s[0] > 2.0 * per_client_s[1] && per_client_s[1] > 2.0 * per_client_s[2],
        "{per_client_s:?}"
    );
    // A subprotocol the server does not choose is a connect failure.
    let args = ["--clients", "1", "--duration", "100ms"];
    let (r, _) = run_loadgen(
        &url,
        &[&args[..], &["--subprotocol", "chat"]].concat(),
        true,
    )
    .await;
    assert_eq!(r["connect_failures"].as_u64(), Some(1), "{r}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_with_deflate_counts_compressed_wire_bytes() {
    let (server, url) = fast_server().await;
    let args = ["--clients", "10", "--duration", "2s", "--deflate"];
    let (report, stderr) = run_loadgen(&url, &args, false).await;
    let deflations = server.stats().deflations;
    server.shutdown().await;
    let num = |k: &str| num(&report, k);
    assert_eq!(num("connected"), 10, "{stderr}");
    assert_eq!((num("gaps"), num("invalid_msgs")), (0, 0), "{stderr}");
    assert_eq!(report["deflate"], true);
    assert!(num("messages") > 10 * 10, "{stderr}");
    assert!(num("compressed_msgs") >= num("messages"), "{stderr}");
    // Inflated JSON is what is parsed; the wire carries a fraction of it.
    assert!(
        num("mean_wire_bytes") * 3 < num("mean_msg_bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("deflated"), "{stderr}");
    assert!(deflations > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_deals_out_subscriptions_and_formats_and_reads_the_encodes() {
    let (server, url) = fast_server().await;
    let args = [
        "--clients",
        "12",
        "--duration",
        "2s",
        "--scrape-metrics",
        "--subprotocol",
        "marketfeed.v2.json,marketfeed.v2.bin",
        "--subscribe",
        "ACB,FPT;VNM;HPG,VIC,MWG",
    ];
    let (report, stderr) = run_loadgen(&url, &args, false).await;
    server.shutdown().await;
    let num = |k: &str| num(&report, k);
    assert_eq!(num("connected"), 12, "{stderr}");
    assert_eq!(
        (num("subscribed"), num("server_errors")),
        (12, 0),
        "{stderr}"
    );
    assert_eq!((num("gaps"), num("reordered")), (0, 0), "{stderr}");
    // Each client's keyframe of its new set restates the tick it held.
    assert!(num("restated") <= 12, "{stderr}");
    // Half the clients in binary frames, the other half in JSON text.
    assert!(num("binary_messages") > 0, "{stderr}");
    assert!(num("binary_messages") < num("messages"), "{stderr}");
    // 3 sets × 2 formats: six encodes per tick, where every client taking
    // the whole universe would have made two (± one tick's encodes over
    // ~40 ticks, where a scrape meets a tick being encoded).
    let per_tick = report["encodes"]["per_tick"].as_f64().unwrap_or(f64::NAN);
    assert!(
        (5.5..=6.5).contains(&per_tick),
        "{per_tick} encodes per tick: {stderr}"
    );
}

#[tokio::test]
async fn frame_parser_interoperates_with_tungstenite() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
    let addr = listener.local_addr().expect("local addr");
    let snapshot = format!(
        "{{\"type\":\"snapshot\",\"seq\":7,\"ts\":1000,\"quotes\":\"{}\"}}",
        "q".repeat(5_500)
    );
    let body = snapshot.clone();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        let mut ws = tokio_tungstenite::accept_async(tcp).await.expect("upgrade");
        ws.send(Message::text(body.clone())).await.expect("send");
        ws.send(Message::Ping(b"hb".to_vec().into()))
            .await
            .expect("ping");
        ws.send(Message::text(body.replace("\"seq\":7", "\"seq\":8")))
            .await
            .expect("send");
        // The client's masked pong must come back (tungstenite rejects
        // unmasked client frames).
        while let Some(msg) = ws.next().await {
            if let Message::Pong(p) = msg.expect("valid client frame") {
                return p.to_vec();
            }
        }
        Vec::new()
    });

    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let early = handshake::upgrade(&mut stream, &addr.to_string(), "/ws/market", [3; 16])
        .await
        .expect("tungstenite accepts the upgrade");
    let mut stats = Stats {
        measuring: true,
        ..Stats::default()
    };
    let mut conn = Conn::new(11, 1 << 20);
    let at = RxTime {
        kernel_ns: None,
        user_ns: 2_000_000,
    };
    conn.feed(&early, at, &mut stats).expect("valid frames");
    let mut buf = vec![0u8; 1024];
    while stats.total_msgs < 2 {
        let n = timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("data in time")
            .expect("read");
        assert!(n > 0, "server closed early");
        conn.feed(&buf[..n], at, &mut stats).expect("valid frames");
    }
    assert_eq!((stats.gaps, stats.reordered, stats.invalid_msgs), (0, 0, 0));
    assert_eq!(stats.pongs_sent, 1);
    stream.write_all(&conn.outgoing).await.expect("send pong");
    let pong = timeout(WAIT, server)
        .await
        .expect("pong in time")
        .expect("join");
    assert_eq!(pong, b"hb");
}
