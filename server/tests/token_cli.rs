//! The binary with authentication: `token` mints what the server accepts,
//! an expired token is refused, secrets are validated, and neither a token
//! nor the secret ever shows up in the logs, even at `RUST_LOG=trace`.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_marketfeed-server");
const SECRET: &str = "cli-test-secret-0123456789abcdefghijkl";

fn mint(subject: &str, ttl: &str) -> String {
    let out = Command::new(BIN)
        .args(["token", "--subject", subject, "--ttl", ttl])
        .env("MARKETFEED_AUTH_SECRET", SECRET)
        .env_remove("MARKETFEED_AUTH_SECRET_FILE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line: {stdout:?}");
    let token = stdout.trim().to_owned();
    assert_eq!(token.split('.').count(), 3, "a JWT: {token}");
    token
}

/// The server with the test secret, logging at `rust_log`; every output
/// line is collected.
struct Running {
    child: Child,
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

fn spawn(rust_log: &str, extra: &[&str]) -> Running {
    let mut child = Command::new(BIN)
        .args(["--bind", "127.0.0.1:0", "--tick-interval", "50ms"])
        .args(extra)
        .env("MARKETFEED_AUTH_SECRET", SECRET)
        .env("RUST_LOG", rust_log)
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let stderr = child.stderr.take().unwrap();
    let err_log = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            err_log.lock().unwrap().push(line);
        }
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited early").unwrap();
        log.lock().unwrap().push(line.clone());
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap()
                .to_owned();
        }
    };
    let out_log = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            out_log.lock().unwrap().push(line);
        }
    });
    Running { child, addr, log }
}

impl Running {
    /// Stops the server and returns everything it logged.
    fn stop(mut self) -> Vec<String> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        std::thread::sleep(Duration::from_millis(100));
        let log = self.log.lock().unwrap().clone();
        log
    }
}

/// A handshake; returns the status line and the open socket.
fn handshake(addr: &str, target: &str, extra: &str) -> (String, TcpStream) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {target} HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    (text, s)
}

#[test]
fn minted_token_is_accepted_and_never_logged() {
    let token = mint("ops-desk", "1h");
    let running = spawn("trace", &[]);
    let addr = running.addr.clone();

    let (answer, mut by_query) = handshake(&addr, &format!("/ws/market?token={token}"), "");
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    let (answer, by_header) = handshake(
        &addr,
        "/ws/market",
        &format!("Authorization: Bearer {token}\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    // A wrong token, in both places, is refused and must not be logged either.
    let wrong = format!("{token}x");
    let (answer, _) = handshake(&addr, &format!("/ws/market?token={wrong}&a=1"), "");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("invalid token signature"), "{answer}");
    let (answer, _) = handshake(
        &addr,
        "/ws/market",
        &format!("Authorization: Bearer {wrong}\r\n"),
    );
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    // A clean close, then a drop, so disconnect lines are written too.
    by_query
        .write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8])
        .unwrap();
    let mut sink = [0u8; 4096];
    while matches!(by_query.read(&mut sink), Ok(n) if n > 0) {}
    drop(by_header);
    std::thread::sleep(Duration::from_millis(300));

    let log = running.stop();
    let all = log.join("\n");
    assert!(all.contains("client connected"), "{all}");
    assert!(all.contains("client disconnected"), "{all}");
    assert!(all.contains("ops-desk"), "the subject is recorded: {all}");
    let signature = token.rsplit('.').next().unwrap();
    assert!(!all.contains(signature), "a token leaked into the log");
    assert!(!all.contains(&token[..40]), "a token leaked into the log");
    assert!(
        !all.contains("token="),
        "a query string leaked into the log"
    );
    assert!(!all.contains(SECRET), "the secret leaked into the log");
}

#[test]
fn expired_token_is_refused_with_401() {
    let token = mint("late", "1s");
    let running = spawn("info", &[]);
    std::thread::sleep(Duration::from_millis(2100));
    let (answer, _) = handshake(&running.addr, &format!("/ws/market?token={token}"), "");
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(answer.contains("token expired"), "{answer}");
    running.stop();
}

#[test]
fn json_log_format_writes_one_object_per_line() {
    let running = spawn("info", &["--log-format", "json"]);
    let log = running.stop();
    assert!(!log.is_empty());
    for line in &log {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v.get("level").is_some(), "{line}");
    }
    assert!(log.iter().any(|l| l.contains("authentication on")));
}

#[test]
fn secret_problems_give_one_line() {
    let check = |cmd: &mut Command, expected: &str| {
        let out = cmd.env_remove("RUST_LOG").output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr:?} lacks {expected:?}");
        assert!(
            !stderr.contains("short-secret"),
            "the secret is echoed: {stderr}"
        );
    };
    check(
        Command::new(BIN)
            .args(["token", "--subject", "x"])
            .env_remove("MARKETFEED_AUTH_SECRET")
            .env_remove("MARKETFEED_AUTH_SECRET_FILE"),
        "no auth secret",
    );
    check(
        Command::new(BIN)
            .args(["token", "--subject", "x"])
            .env("MARKETFEED_AUTH_SECRET", "short-secret"),
        "at least 32 bytes",
    );
    check(
        Command::new(BIN)
            .args([
                "--bind",
                "127.0.0.1:0",
                "--auth-secret-file",
                "/no/such/secret",
            ])
            .env_remove("MARKETFEED_AUTH_SECRET"),
        "/no/such/secret",
    );
}

#[test]
fn secret_file_works_for_token_and_server_alike() {
    let dir = std::env::temp_dir().join(format!("marketfeed-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let out = Command::new(BIN)
        .args(["token", "--subject", "f", "--auth-secret-file"])
        .arg(&file)
        .env_remove("MARKETFEED_AUTH_SECRET")
        .output()
        .unwrap();
    assert!(out.status.success());
    let from_file = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // The server reading the env secret accepts the file-minted token:
    // the trailing newline is not part of the secret.
    let running = spawn("info", &[]);
    let (answer, _s) = handshake(&running.addr, &format!("/ws/market?token={from_file}"), "");
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    running.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn help_lists_the_hardening_settings() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--auth-secret-file",
        "--allowed-origin",
        "--max-connections",
        "--max-connections-per-ip",
        "--limit-loopback",
        "--client-msg-rate",
        "--client-msg-burst",
        "--request-timeout",
        "--drain-delay",
        "--log-format",
        "MARKETFEED_AUTH_SECRET",
        "token",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}
