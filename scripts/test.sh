#!/usr/bin/env bash
# The whole test suite: installs what is missing (scripts/setup.sh), checks
# formatting and lints (native and wasm32), then runs every test — native
# unit and integration tests over real loopback sockets, the load
# generator smoke test, a 20 s fuzz run per cargo-fuzz target (five: 100 s), and the
# browser tests in headless Chromium.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '\n[test] == %s\n' "$*" >&2; }

scripts/setup.sh

say "formatting"
cargo fmt --all --check

say "lints (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings

say "lints (wasm32)"
cargo clippy -p marketfeed-protocol -p marketfeed-web-client --target wasm32-unknown-unknown --all-targets --locked -- -D warnings

say "protocol builds for wasm32"
cargo build -p marketfeed-protocol --target wasm32-unknown-unknown --locked

say "native tests"
cargo test --workspace --locked

say "operator's kit (promtool, systemd-analyze)"
scripts/check-deploy.sh

say "fuzz smoke run (20 s per target)"
scripts/fuzz.sh 20

say "browser tests"
scripts/test-browser.sh

say "all tests passed"
