#!/usr/bin/env bash
# Decode benchmark of the web client in headless Chrome: starts the server
# (debug build, 30 VN30 symbols, 1 tick per 100 ms) under
# tests/browser/supervisor.mjs and runs web-client/tests/decode_bench.rs in
# release mode, which prints µs per binary keyframe, per delta tick (decode
# + apply) and per JSON.parse of a v1 snapshot. Prints timings; asserts
# nothing about them.
#
# Needs what scripts/test-browser.sh needs. Env: CHROMEDRIVER, CARGO_TARGET_DIR.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
chromedriver="${CHROMEDRIVER:-$(command -v chromedriver)}"
work="$(mktemp -d)"
set -m
cargo build -p marketfeed-server --bin marketfeed-server >&2
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
node tests/browser/supervisor.mjs --server "$target_dir/debug/marketfeed-server" --ready-file "$work/ready" \
  --log "$work/server.log" -- --tick-interval 100ms --seed 7 >/dev/null &
sup=$!
stop() { kill -TERM -- "-$sup" 2>/dev/null || true; wait "$sup" 2>/dev/null || true; rm -rf "$work"; }
trap stop EXIT
for _ in $(seq 300); do [[ -s "$work/ready" ]] && break; sleep 0.1; done
[[ -s "$work/ready" ]] || { echo "server did not start" >&2; exit 1; }
ws_url="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")).wsUrl)' "$work/ready")"
MARKETFEED_BENCH_WS_URL="$ws_url" wasm-pack test --release --headless --chrome --chromedriver "$chromedriver" \
  --mode no-install web-client --test decode_bench -- --nocapture 2>&1 | grep -E "decode bench|µs"
