//! The binary: bad configuration gives one clear line and a non-zero
//! exit; SIGTERM closes clients with 1001 and exits 0.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

mod common;

use common::BIN;

fn fails_with(args: &[&str], expected: &str) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got {stderr:?}"
    );
    assert!(stderr.starts_with("marketfeed-server: error: "), "{stderr}");
    assert!(
        stderr.contains(expected),
        "{args:?}: {stderr:?} lacks {expected:?}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_values_give_one_line() {
    fails_with(
        &["--trusted-proxy", "10.0.0.0/33"],
        "prefix length must be 0–32",
    );
    fails_with(&["--trusted-proxy", "proxy.lan"], "--trusted-proxy");
    fails_with(&["--tick-interval", "0s"], "must be greater than zero");
    fails_with(&["--tick-interval", "soon"], "--tick-interval");
    fails_with(
        &["--heartbeat-interval", "0ms"],
        "must be greater than zero",
    );
    fails_with(&["--client-queue", "0"], "must be at least 1");
    fails_with(&["--bind", "nowhere"], "--bind");
    fails_with(&["--max-message-size", "1"], "at least 64");
    fails_with(
        &["--www-dir", "/no/such/dir", "--bind", "127.0.0.1:0"],
        "/no/such/dir",
    );
    fails_with(&["--frobnicate"], "--frobnicate");
}

#[test]
fn timers_a_browser_cannot_schedule_are_refused() {
    // Browsers fire a timer of 2^31 ms (~24.8 days) or more at once; the
    // web client schedules from the announced intervals.
    for flag in [
        "--heartbeat-interval",
        "--heartbeat-timeout",
        "--tick-interval",
    ] {
        fails_with(&[flag, "25days"], "must be at most 24h");
        fails_with(&[flag, "2147483648ms"], flag);
    }
}

#[test]
fn env_fallback_is_validated_too() {
    let out = Command::new(BIN)
        .env("MARKETFEED_CLIENT_QUEUE", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 1"));
}

#[test]
fn address_in_use_gives_one_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    fails_with(&["--bind", &addr], "cannot listen on");
}

#[test]
fn help_lists_every_setting() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--bind",
        "--tick-interval",
        "--heartbeat-interval",
        "--heartbeat-timeout",
        "--client-queue",
        "--max-message-size",
        "--www-dir",
        "--seed",
        "--feed",
        "--replay-speed",
        "--replay-loop",
        "--record",
        "--feed-stale-after",
        "--sim-schedule",
        "MARKETFEED_BIND",
        "MARKETFEED_FEED",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

/// Starts the binary on port 0 with a fast tick.
fn spawn_server() -> (std::process::Child, String) {
    common::spawn(&["--tick-interval", "50ms"], Stdio::null())
}

#[test]
fn sigterm_closes_clients_with_going_away_and_exits_zero() {
    let (mut child, addr) = spawn_server();
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(
        b"GET /ws/market HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    )
    .unwrap();
    // Wait until data flows, then signal.
    let mut buf = [0u8; 4096];
    let n = s.read(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 101"));
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    // Scan the rest of the stream for the close frame 0x88 with code 1001.
    let mut all = Vec::new();
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
        if let Some(pos) = find_close(&all) {
            assert_eq!(&all[pos + 2..pos + 4], &1001u16.to_be_bytes());
            assert_eq!(&all[pos + 4..pos + 14], b"going away");
            // Answer the close so the server need not wait for the drain bound.
            s.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]).unwrap();
            let code = child.wait().unwrap();
            assert!(code.success(), "exit status {code:?}");
            return;
        }
    }
    let _ = child.kill();
    panic!("no 1001 close frame received");
}

/// Position of a server close frame with a 12-byte payload (code + "going away").
fn find_close(bytes: &[u8]) -> Option<usize> {
    bytes
        .windows(4)
        .position(|w| w[0] == 0x88 && w[1] == 12 && w[2..4] == 1001u16.to_be_bytes())
}
