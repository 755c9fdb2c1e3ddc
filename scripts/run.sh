#!/usr/bin/env bash
# Runs the whole system: builds the browser client (release, no downloads)
# and starts the server with the simulated VN30 feed, serving the live
# board. Extra arguments go to marketfeed-server (see --help), e.g.
#   scripts/run.sh --bind 0.0.0.0:8080 --tick-interval 250ms
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
scripts/setup.sh --no-browser
MARKETFEED_WASM_TARGETS=web scripts/build-wasm.sh
cargo build --release --locked -p marketfeed-server
exec target/release/marketfeed-server --www-dir www "$@"
