#!/usr/bin/env bash
# Browser tests of the web client and the board against the real server:
#   1. builds the server and the wasm packages (scripts/build-wasm.sh),
#   2. type-checks the generated .d.ts with tsc (tests/browser/usage.ts),
#   3. `wasm-pack test --headless --chrome` on web-client (pure unit tests in
#      the browser + tests/live.rs against a live server under
#      tests/browser/supervisor.mjs),
#   4. the Playwright check of the board (tests/browser/board.check.mjs) and
#      of permessage-deflate negotiated by Chromium (deflate.check.mjs),
#   5. the example apps under examples/ built (vite-ts, webpack: npm ci,
#      tsc --strict, bundler build) and checked live in Chromium
#      (tests/browser/examples.check.mjs).
# Every process it starts is stopped on exit, failure or not; exits non-zero
# if any step fails. Screenshots land in tests/artifacts/.
#
# Needs: cargo + wasm32-unknown-unknown, wasm-pack 0.15.x, wasm-bindgen-cli
# at the Cargo.lock version, chromium + chromedriver (same major), node ≥ 18
# and npm (node packages from tests/browser/package-lock.json via `npm ci`).
# Env: CHROMEDRIVER (default: chromedriver on PATH), CHROMIUM (default:
# chromium on PATH), MARKETFEED_BROWSER_TEST_TIMEOUT (s, per wasm test
# binary, default 180), CARGO_TARGET_DIR honoured.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '[test-browser] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

work="$(mktemp -d)"
# Job control: every background job (supervisor, test step) gets its own
# process group, so cleanup can stop it with all its children (chromedriver,
# chromium, the server) by signalling the group.
set -m
pids=()
cleanup() {
  local status=$?
  trap - INT TERM
  for pid in "${pids[@]}"; do
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 60); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 && -d "$work" ]]; then
    for f in "$work"/*.log; do [[ -f "$f" ]] && { say "---- $(basename "$f") (tail)"; tail -n 40 "$f" >&2; }; done
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- tools ------------------------------------------------------------------
for tool in cargo wasm-pack wasm-bindgen node npm; do
  command -v "$tool" >/dev/null || die "$tool not found on PATH (see scripts/setup.sh)"
done
chromium="${CHROMIUM:-$(command -v chromium || command -v chromium-browser || true)}"
chromedriver="${CHROMEDRIVER:-$(command -v chromedriver || true)}"
[[ -x "$chromium" ]] || die "chromium not found (apt-get install chromium chromium-driver)"
[[ -x "$chromedriver" ]] || die "chromedriver not found (apt-get install chromium-driver)"
export CHROMIUM="$chromium"

# ---- node packages ------------------------------------------------------------
if [[ ! -d tests/browser/node_modules/playwright-core || tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]]; then
  say "npm ci in tests/browser"
  npm ci --prefix tests/browser --no-audit --no-fund >&2
fi

# ---- builds -------------------------------------------------------------------
say "building the server"
cargo build -p marketfeed-server --bin marketfeed-server >&2
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
server="$target_dir/debug/marketfeed-server"
[[ -x "$server" ]] || die "server binary not found at $server"

say "building the wasm packages"
scripts/build-wasm.sh

failed=()
passed=()
step() { # name command...
  local name="$1"; shift
  say "== $name"
  "$@" &
  local pid=$!
  pids+=("$pid")
  if wait "$pid"; then passed+=("$name"); else failed+=("$name"); say "FAILED: $name"; fi
}

step "tsc type-check of the generated .d.ts" tests/browser/node_modules/.bin/tsc -p tests/browser/tsconfig.json

# ---- live server under the supervisor -------------------------------------------
# Not called in $(...): the pid must be recorded in this shell for cleanup.
start_supervisor() { # name -- server args...
  local name="$1"; shift
  local ready="$work/$name.ready"
  node tests/browser/supervisor.mjs --server "$server" --ready-file "$ready" --log "$work/$name.log" "$@" \
    >/dev/null &
  pids+=($!)
  for _ in $(seq 300); do
    [[ -s "$ready" ]] && return 0
    kill -0 "${pids[-1]}" 2>/dev/null || break
    sleep 0.1
  done
  die "supervisor $name did not become ready (log: $(tail -n 20 "$work/$name.log" 2>/dev/null))"
}
json() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$1" "$2"; }

start_supervisor wasm -- --tick-interval 100ms --heartbeat-interval 1s --heartbeat-timeout 2s --seed 7
wasm_info="$(cat "$work/wasm.ready")"
# The gap path: a feed fast enough (2 ms ticks, ~6 MB/s) that a page busy
# for 3 s overflows the kernel's buffers and the server conflates.
start_supervisor gap -- --tick-interval 2ms --heartbeat-interval 1s --seed 17
gap_info="$(cat "$work/gap.ready")"
# getToken against authentication on: the supervisor mints tokens with
# `marketfeed-server token` and this secret (test-only, random per run).
MARKETFEED_AUTH_SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" \
  start_supervisor auth -- --tick-interval 100ms --heartbeat-interval 1s --seed 19
auth_info="$(cat "$work/auth.ready")"
say "wasm tests against $(json "$wasm_info" wsUrl), gap $(json "$gap_info" wsUrl), auth $(json "$auth_info" wsUrl)"
# A cluster for the failover test: nats-server (Debian's, scripts/setup.sh),
# a publisher and two edges, under tests/browser/cluster.mjs.
command -v nats-server >/dev/null || die "nats-server not found (apt-get install nats-server)"
node tests/browser/cluster.mjs --server "$server" --ready-file "$work/cluster.ready" --log "$work/cluster.log" \
  -- --tick-interval 100ms --heartbeat-interval 1s --heartbeat-timeout 2s --feed-stale-after 500ms >/dev/null &
pids+=($!)
for _ in $(seq 300); do
  [[ -s "$work/cluster.ready" ]] && break
  kill -0 "${pids[-1]}" 2>/dev/null || break
  sleep 0.1
done
[[ -s "$work/cluster.ready" ]] || die "cluster did not become ready (log: $(tail -n 20 "$work/cluster.log" 2>/dev/null))"
cluster_info="$(cat "$work/cluster.ready")"
run_wasm_tests() {
  MARKETFEED_WS_URL="$(json "$wasm_info" wsUrl)" \
  MARKETFEED_CONTROL_URL="$(json "$wasm_info" controlUrl)" \
  MARKETFEED_GAP_WS_URL="$(json "$gap_info" wsUrl)" \
  MARKETFEED_AUTH_WS_URL="$(json "$auth_info" wsUrl)" \
  MARKETFEED_AUTH_CONTROL_URL="$(json "$auth_info" controlUrl)" \
  MARKETFEED_CLUSTER_WS_URLS="$(node -e 'console.log(JSON.parse(process.argv[1]).wsUrls.join(","))' "$cluster_info")" \
  MARKETFEED_CLUSTER_CONTROL_URL="$(json "$cluster_info" controlUrl)" \
  WASM_BINDGEN_TEST_TIMEOUT="${MARKETFEED_BROWSER_TEST_TIMEOUT:-180}" \
    wasm-pack test --headless --chrome --chromedriver "$chromedriver" --mode no-install web-client
}
step "wasm-pack test --headless --chrome (live server)" run_wasm_tests

start_supervisor board -- --tick-interval 250ms --heartbeat-interval 5s --www-dir "$root/www" --seed 11
board_info="$(cat "$work/board.ready")"
say "board check against $(json "$board_info" httpUrl)"
run_board_check() {
  BOARD_URL="$(json "$board_info" httpUrl)" CONTROL_URL="$(json "$board_info" controlUrl)" \
    node tests/browser/board.check.mjs
}
step "Playwright check of the board" run_board_check
run_deflate_check() {
  SERVER_URL="$(json "$board_info" httpUrl)" node tests/browser/deflate.check.mjs
}
step "Chromium negotiates permessage-deflate (tests/browser/deflate.check.mjs)" run_deflate_check

# ---- example apps (examples/) ------------------------------------------------------
# plain-html is served as is, with the --target web package as ./pkg/; the
# bundled apps install the bundler package from an `npm pack` tarball of
# web-client/pkg, type-check with tsc --strict and build; the built pages
# are gathered into one --www-dir and checked in Chromium.
examples_www="$work/examples-www"
mkdir -p "$examples_www/plain-html"
cp examples/plain-html/index.html "$examples_www/plain-html/"
cp -r web-client/pkg-web "$examples_www/plain-html/pkg"
examples=(plain-html)
pack_client() {
  mkdir -p "$work/pack"
  (cd "$work/pack" && npm pack --silent "$root/web-client/pkg" >/dev/null)
  ls "$work"/pack/*.tgz
}
build_bundled_example() { # app tarball
  local app="$1" tgz="$2" dir="$root/examples/$1"
  if [[ ! -d "$dir/node_modules" || "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]]; then
    npm ci --prefix "$dir" --no-audit --no-fund >&2
  fi
  # The tarball changes with every build, so it is not in the lockfile:
  # installed over the pinned toolchain, as `npm install <tgz>` would.
  (cd "$dir" && npm install --no-save --no-audit --no-fund "$tgz" >&2)
  (cd "$dir" && npm run --silent typecheck >&2 && npm run --silent build >&2)
  rm -rf "${examples_www:?}/$app"
  cp -r "$dir/dist" "$examples_www/$app"
}
bundled=()
for app in vite-ts webpack; do
  if [[ -f "examples/$app/package.json" ]]; then bundled+=("$app"); fi
done
if [[ ${#bundled[@]} -gt 0 ]]; then
  client_tgz="$(pack_client)"
  for app in "${bundled[@]}"; do
    step "examples/$app: npm ci, tsc --strict, build" build_bundled_example "$app" "$client_tgz"
    if [[ -f "$examples_www/$app/index.html" ]]; then examples+=("$app"); fi
  done
fi
start_supervisor examples -- --tick-interval 200ms --heartbeat-interval 5s --www-dir "$examples_www" --seed 13
examples_info="$(cat "$work/examples.ready")"
run_examples_check() {
  EXAMPLES_URL="$(json "$examples_info" httpUrl)" EXAMPLES="${examples[*]}" \
    node tests/browser/examples.check.mjs
}
step "Playwright check of the example apps (${examples[*]})" run_examples_check

say "passed: ${passed[*]:-none}"
[[ ${#failed[@]} -eq 0 ]] || say "failed: ${failed[*]}"
echo "browser: ${#passed[@]} passed, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]]
