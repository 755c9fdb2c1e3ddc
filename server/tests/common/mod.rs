//! What the binary's tests share: starting `marketfeed-server` on port 0
//! and reading the address it bound from its log.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_marketfeed-server");

/// Starts the binary with `--bind 127.0.0.1:0` and `args`, returns it and
/// the address from its "listening on" line. Its log keeps being drained
/// so the server never blocks on a full pipe.
pub fn spawn(args: &[&str], stdin: Stdio) -> (Child, String) {
    spawn_full(&[], args, &[], stdin)
}

/// [`spawn`] with extra environment variables.
#[allow(dead_code)] // not every test binary sets any
pub fn spawn_with_env(args: &[&str], env: &[(&str, &str)], stdin: Stdio) -> (Child, String) {
    spawn_full(&[], args, env, stdin)
}

/// [`spawn`] with `leading` before `--bind` (a subcommand and its flags
/// that precede the server settings, e.g. `publish --nats URL`).
#[allow(dead_code)] // not every test binary runs a subcommand
pub fn spawn_with(leading: &[&str], args: &[&str], stdin: Stdio) -> (Child, String) {
    spawn_full(leading, args, &[], stdin)
}

fn spawn_full(
    leading: &[&str],
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Stdio,
) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(leading)
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .envs(env.iter().copied())
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the server binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited early")
            .expect("readable log");
        if let Some(rest) = line.split("listening on ").nth(1) {
            if let Some(addr) = rest.split_whitespace().next() {
                break addr.to_owned();
            }
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}
