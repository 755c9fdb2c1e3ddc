#!/usr/bin/env bash
# Encodes per tick with subscriptions (issue 9): one node at 1 Hz, CLIENTS
# clients dealt out over SETS subscription sets and two formats
# (marketfeed.v2.json, marketfeed.v2.bin) round-robin — client i takes
# set i mod 3 and format i mod 2, so every (format, set) pair is held by
# CLIENTS/6 clients. The load generator reads the server's
# marketfeed_encodes_total and marketfeed_ticks_total at both ends of the
# window: the encodes per tick must not exceed the distinct pairs (6).
#
#   scripts/bench-encodes.sh                          # 8,000 clients, 20 s
#   CLIENTS=600 DURATION=5s scripts/bench-encodes.sh  # quick check
#
# Output: $CARGO_TARGET_DIR/bench-encodes/<stamp>/{report.json,server.log}
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CLIENTS=${CLIENTS:-8000}
SETS=${SETS:-"ACB,FPT,VNM;HPG,VIC,VHM,MWG;SSI,TCB"}
FORMATS=${FORMATS:-marketfeed.v2.json,marketfeed.v2.bin}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release
OUT=${OUT:-$TARGET/bench-encodes/$(date -u +%Y%m%dT%H%M%SZ)}

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p marketfeed-server -p marketfeed-tests --bins
fi
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

NO_COLOR=1 taskset -c "$SERVER_CPU" "$BIN/marketfeed-server" --bind 127.0.0.1:0 --tick-interval 1s \
  >"$OUT/server.log" 2>&1 &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true' EXIT
addr=
for _ in $(seq 100); do
  addr=$(sed 's/\x1b\[[0-9;]*m//g' "$OUT/server.log" | grep -o 'listening on [0-9.:]*' | head -n1 | cut -d' ' -f3 || true)
  [[ -n "$addr" ]] && break
  sleep 0.1
done
[[ -n "$addr" ]] || { echo "server did not start: $(cat "$OUT/server.log")" >&2; exit 1; }

echo "== $CLIENTS clients over sets '$SETS' × formats $FORMATS, 1 Hz, $DURATION" >&2
taskset -c "$LOADGEN_CPU" "$BIN/marketfeed-loadgen" --url "ws://$addr/ws/market" \
  --clients "$CLIENTS" --duration "$DURATION" --server-pid "$pid" --label encodes \
  --subprotocol "$FORMATS" --subscribe "$SETS" --scrape-metrics \
  2> >(tee "$OUT/loadgen.log" >&2) | tail -n1 >"$OUT/report.json"

python3 - "$OUT/report.json" "$SETS" "$FORMATS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
pairs = len(sys.argv[2].split(";")) * len(sys.argv[3].split(","))
e = r.get("encodes") or {}
print(f"| clients | subscribed answers | errors | ticks | encodes | encodes / tick | distinct (format, set) pairs | p99 ms | µs/msg |")
print(f"|---|---|---|---|---|---|---|---|---|")
s = r.get("server") or {}
print(f"| {r['connected']} | {r['subscribed']} | {r['server_errors']} | {e.get('ticks', 0):.0f} | {e.get('encodes', 0):.0f} "
      f"| {e.get('per_tick', float('nan')):.2f} | {pairs} | {r['latency_kernel_us']['p99'] / 1000:.2f} | {s.get('cpu_us_per_msg', '–')} |")
if not e or e["per_tick"] > pairs or r["subscribed"] < r["connected"] or r["server_errors"]:
    print(f"FAIL: {e.get('per_tick')} encodes per tick for {pairs} pairs, "
          f"{r['subscribed']} of {r['connected']} subscribed, {r['server_errors']} errors", file=sys.stderr)
    sys.exit(1)
PY
