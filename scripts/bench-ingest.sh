#!/usr/bin/env bash
# The ingest benchmarks of BENCHMARKS.md "Ingest and universe size", in one
# sitting: 1,000 clients at 1 Hz on a 400-symbol universe fed through
# `--feed stdin`, without and with 100,000 quote updates/s, then 2,000
# clients on the same universe. The server (and so its ingest task) is
# pinned to CPU 0; the load generator and the ingest generator share CPU 1.
#
#   scripts/bench-ingest.sh                 # 30 s windows
#   DURATION=60s RATE=150000 scripts/bench-ingest.sh
#
# Output: $CARGO_TARGET_DIR/bench-ingest/<stamp>/{*.json,*.log,table.md}
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-30s}
RATE=${RATE:-100000}
SYMBOLS=${SYMBOLS:-400}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release
OUT=${OUT:-$TARGET/bench-ingest/$(date -u +%Y%m%dT%H%M%SZ)}
[[ -n "${NO_BUILD:-}" ]] || cargo build --release -p marketfeed-server -p marketfeed-tests --bins
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

GEN_PID= SERVER_PID=
stop() {
  [[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  [[ -n "$GEN_PID" ]] && kill "$GEN_PID" 2>/dev/null || true
  SERVER_PID= GEN_PID=
}
trap stop EXIT

# run LABEL CLIENTS RATE (1: the universe and a trickle, no ingest load)
run() {
  local label=$1 clients=$2 rate=$3 log=$OUT/$1.server.log fifo=$OUT/$1.fifo
  rm -f "$fifo"; mkfifo "$fifo"
  taskset -c 1 "$BIN/marketfeed-ingestgen" --symbols "$SYMBOLS" --rate "$rate" >"$fifo" &
  GEN_PID=$!
  NO_COLOR=1 taskset -c 0 "$BIN/marketfeed-server" --feed stdin --feed-stale-after 1h \
    --bind 127.0.0.1:0 --tick-interval 1s <"$fifo" >"$log" 2>&1 &
  SERVER_PID=$!
  local addr=
  for _ in $(seq 100); do
    addr=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'listening on [0-9.:]*' | head -n1 | cut -d' ' -f3 || true)
    [[ -n "$addr" ]] && break
    sleep 0.1
  done
  [[ -n "$addr" ]] || { echo "server did not start: $(cat "$log")" >&2; exit 1; }
  echo "== $label: $clients clients, $rate updates/s, $SYMBOLS symbols" >&2
  local lines0
  lines0=$(curl -s "http://$addr/metrics" | awk '/^marketfeed_feed_lines_total/ {print $2}')
  local t0=$SECONDS
  taskset -c 1 "$BIN/marketfeed-loadgen" --url "ws://$addr/ws/market" --clients "$clients" \
    --duration "$DURATION" --server-pid "$SERVER_PID" --label "$label" \
    2>"$OUT/$label.loadgen.log" | tail -n1 >"$OUT/$label.json"
  local lines1
  lines1=$(curl -s "http://$addr/metrics" | awk '/^marketfeed_feed_lines_total/ {print $2}')
  python3 - "$OUT/$label.json" "${lines0:-0}" "${lines1:-0}" "$((SECONDS - t0))" <<'PY'
import json, sys
p = sys.argv[1]
r = json.load(open(p))
r["ingest_lines_per_s"] = (float(sys.argv[3]) - float(sys.argv[2])) / max(1, int(sys.argv[4]))
json.dump(r, open(p, "w"))
PY
  stop
  rm -f "$fifo"
}

run ingest-off 1000 1
run ingest-on 1000 "$RATE"
run universe-2000 2000 1

python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import json, sys, os
out = sys.argv[1]
print("| case | clients | msg B | ingest lines/s (applied by the server) | p50 ms | p99 ms | p99 user-rx ms | gaps | RSS KiB/client | µs/msg |")
print("|---|---|---|---|---|---|---|---|---|---|")
for label in ["ingest-off", "ingest-on", "universe-2000"]:
    r = json.load(open(os.path.join(out, label + ".json")))
    k, u, s = r["latency_kernel_us"], r["latency_user_us"], r.get("server") or {}
    print(f"| {label} | {r['connected']} | {r.get('mean_msg_bytes')} | {r['ingest_lines_per_s']:.0f} | {k['p50']/1000:.2f} | {k['p99']/1000:.2f} | {u['p99']/1000:.2f} | {r['gaps']} | {s.get('rss_per_client_kib')} | {s.get('cpu_us_per_msg')} |")
PY
echo "results in $OUT" >&2
