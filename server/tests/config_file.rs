//! `--config PATH` and `config check PATH` through the binary: flag beats
//! environment beats file beats default in a serving process; an unknown
//! key, a bad value or a missing file is one line and exit 2; `config
//! check` prints the effective configuration with secrets redacted; the
//! example `deploy/marketfeed.toml` passes the check.

#![allow(clippy::unwrap_used, missing_docs)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use marketfeed_protocol::{decode_server, ServerMessage};
use tungstenite::protocol::Role;
use tungstenite::{Message, WebSocket};

mod common;

use common::BIN;

const WAIT: Duration = Duration::from_secs(10);

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("marketfeed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs the binary with `args` and only the environment given (plus
/// what a process needs to start).
fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn fails_with(args: &[&str], expected: &[&str]) {
    let out = run(args, &[]);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: one line, got {stderr:?}"
    );
    assert!(stderr.starts_with("marketfeed-server: error: "), "{stderr}");
    for e in expected {
        assert!(stderr.contains(e), "{args:?}: {stderr:?} lacks {e:?}");
    }
    assert!(out.stdout.is_empty(), "{args:?} printed {:?}", out.stdout);
}

/// The `hello` of a fresh connection to `addr`.
fn hello(addr: &str) -> (u64, u64) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET /ws/market HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    let mut ws = WebSocket::from_raw_socket(s, Role::Client, None);
    loop {
        if let Message::Text(text) = ws.read().unwrap() {
            match decode_server(text.as_bytes()).unwrap() {
                ServerMessage::Hello(h) => return (h.tick_interval_ms, h.heartbeat_interval_ms),
                other => panic!("expected hello, got {other:?}"),
            }
        }
    }
}

/// `GET path` on `addr`: the whole answer.
fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let dir = Scratch::new("precedence");
    let www = dir.0.join("www");
    std::fs::create_dir_all(&www).unwrap();
    std::fs::write(www.join("index.html"), "board from the config file").unwrap();
    let config = dir.file(
        "marketfeed.toml",
        &format!(
            // bind: the test's --bind 127.0.0.1:0 flag wins.
            "bind = \"127.0.0.1:1\"\n\
             tick-interval = \"300ms\"\n\
             heartbeat-interval = \"7s\"\n\
             www-dir = \"{}\"\n",
            www.display()
        ),
    );
    let (mut child, addr) = common::spawn_with_env(
        &[
            "--config",
            config.to_str().unwrap(),
            "--tick-interval",
            "200ms",
        ],
        &[
            ("MARKETFEED_TICK_INTERVAL", "400ms"),
            ("MARKETFEED_HEARTBEAT_INTERVAL", "5s"),
        ],
        Stdio::null(),
    );
    let served = std::panic::catch_unwind(|| {
        assert!(
            !addr.ends_with(":1"),
            "the file's bind won over the flag: {addr}"
        );
        // tick: flag (200ms) over env (400ms) over file (300ms);
        // heartbeat: env (5s) over file (7s).
        assert_eq!(hello(&addr), (200, 5000));
        // www-dir: the file over the default (no board served).
        let page = get(&addr, "/");
        assert!(page.starts_with("HTTP/1.1 200"), "{page}");
        assert!(page.contains("board from the config file"), "{page}");
    });
    let _ = child.kill();
    let _ = child.wait();
    served.unwrap();

    // Without the flag and the environment, the file's values hold.
    let (mut child, addr) = common::spawn(&["--config", config.to_str().unwrap()], Stdio::null());
    let from_file = std::panic::catch_unwind(|| hello(&addr));
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(from_file.unwrap(), (300, 7000));
}

#[test]
fn unknown_keys_bad_values_and_missing_files_give_one_line_and_exit_2() {
    let dir = Scratch::new("bad-config");
    let unknown = dir.file(
        "unknown.toml",
        "tick-interval = \"1s\"\nmax-clientz = 5000\n",
    );
    fails_with(
        &["--config", unknown.to_str().unwrap()],
        &["unknown key `max-clientz`", "unknown.toml"],
    );
    let bad = dir.file("bad.toml", "tick-interval = \"0s\"\n");
    for args in [
        &["--config", bad.to_str().unwrap()][..],
        &["config", "check", bad.to_str().unwrap()],
    ] {
        fails_with(args, &["`tick-interval`", "must be greater than zero"]);
    }
    let typed = dir.file("typed.toml", "max-connections = \"many\"\n");
    fails_with(
        &["--config", typed.to_str().unwrap()],
        &["`max-connections`", "many"],
    );
    let not_toml = dir.file("broken.toml", "seed = 1\nseed 2\n");
    fails_with(
        &["--config", not_toml.to_str().unwrap()],
        &["broken.toml:2", "TOML"],
    );
    let missing = dir.0.join("missing.toml");
    for args in [
        &["--config", missing.to_str().unwrap()][..],
        &["config", "check", missing.to_str().unwrap()],
    ] {
        fails_with(args, &["cannot read the config file", "missing.toml"]);
    }
    // The env names a file too.
    let out = run(&[], &[("MARKETFEED_CONFIG", unknown.to_str().unwrap())]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("max-clientz"));
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_redacted() {
    let dir = Scratch::new("check");
    let secret = "s3cr3t-0123456789-abcdefghijklmnopqrstuvwxyz";
    let secret_file = dir.file("secret", secret);
    let config = dir.file(
        "marketfeed.toml",
        &format!(
            "max-connections = 5000\nseed = 4\nauth-secret-file = \"{}\"\n",
            secret_file.display()
        ),
    );
    let out = run(
        &["config", "check", config.to_str().unwrap()],
        &[("MARKETFEED_SEED", "11")],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for line in [
        "max-connections = 5000  # file",
        "seed = 11  # env",
        "tick-interval = \"1s\"  # default",
        &format!("auth-secret-file = \"{}\"  # file", secret_file.display()),
        &format!(
            "# auth secret: set from {} (redacted)",
            secret_file.display()
        ),
    ] {
        assert!(
            stdout.lines().any(|l| l == line),
            "{line:?} missing in\n{stdout}"
        );
    }
    assert!(!stdout.contains(secret), "the secret leaked:\n{stdout}");

    // A secret from the environment is redacted as well.
    let plain = dir.file("plain.toml", "seed = 4\n");
    let out = run(
        &["config", "check", plain.to_str().unwrap()],
        &[("MARKETFEED_AUTH_SECRET", secret)],
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success());
    assert!(
        stdout.contains("# auth secret: set from MARKETFEED_AUTH_SECRET (redacted)"),
        "{stdout}"
    );
    assert!(!stdout.contains(secret), "the secret leaked:\n{stdout}");

    // A secret too short for HS256 fails the check.
    let out = run(
        &["config", "check", plain.to_str().unwrap()],
        &[("MARKETFEED_AUTH_SECRET", "short")],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn the_example_config_passes_the_check() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/marketfeed.toml");
    let out = run(&["config", "check", example.to_str().unwrap()], &[]);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every key the example sets is reported as coming from it.
    let text = std::fs::read_to_string(&example).unwrap();
    let keys: Vec<&str> = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap().trim())
        .collect();
    assert!(keys.len() >= 5, "{keys:?}");
    for key in keys {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{key} = ")) && l.ends_with("# file")),
            "{key} not taken from the example:\n{stdout}"
        );
    }
}
