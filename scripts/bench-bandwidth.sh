#!/usr/bin/env bash
# Wire bytes per client-second of each wire format, in one sitting: one
# server (simulator, continuous trading, 1 s ticks), the load generator
# run once per format against it, the same clients and window each time.
# Prints bytes per client-second and the share of v1.json's. A format
# with `+deflate` also negotiates permessage-deflate (compressed once per
# tick by the server, inflated by the load generator).
#
#   scripts/bench-bandwidth.sh                     # 200 clients, 60 s windows
#   CLIENTS=1000 DURATION=120s scripts/bench-bandwidth.sh
#   FORMATS="marketfeed.v1.json marketfeed.v2.bin+deflate" scripts/bench-bandwidth.sh
#
# Output: $CARGO_TARGET_DIR/bench-bandwidth/<stamp>/{N-FORMAT.json,N-FORMAT.loadgen.log,table.md}
# (N numbers the runs, so a format listed twice is measured twice).
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-200}
DURATION=${DURATION:-60s}
TICK=${TICK:-1s}
FORMATS=${FORMATS:-"marketfeed.v1.json marketfeed.v1.json+deflate marketfeed.v2.json marketfeed.v2.json+deflate marketfeed.v2.bin marketfeed.v2.bin+deflate"}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${BIN:-$TARGET/release}
OUT=${OUT:-$TARGET/bench-bandwidth/$(date -u +%Y%m%dT%H%M%SZ)}
[[ -n "${NO_BUILD:-}" ]] || cargo build --release -p marketfeed-server -p marketfeed-tests --bins
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

SERVER_PID=
stop() {
  [[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}
trap stop EXIT

log=$OUT/server.log
NO_COLOR=1 "$BIN/marketfeed-server" --bind 127.0.0.1:0 --tick-interval "$TICK" \
  --sim-schedule continuous >"$log" 2>&1 &
SERVER_PID=$!
addr=
for _ in $(seq 100); do
  addr=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'listening on [0-9.:]*' | head -n1 | cut -d' ' -f3 || true)
  [[ -n "$addr" ]] && break
  sleep 0.1
done
[[ -n "$addr" ]] || { echo "server did not start: $(cat "$log")" >&2; exit 1; }

i=0
for format in $FORMATS; do
  i=$((i + 1))
  echo "== $format: $CLIENTS clients, $DURATION window, $TICK ticks" >&2
  deflate=()
  [[ $format == *+deflate ]] && deflate=(--deflate)
  "$BIN/marketfeed-loadgen" --url "ws://$addr/ws/market" --clients "$CLIENTS" \
    --duration "$DURATION" --subprotocol "${format%+deflate}" "${deflate[@]}" \
    --server-pid "$SERVER_PID" --label "$format" \
    2>"$OUT/$i-$format.loadgen.log" | tail -n1 >"$OUT/$i-$format.json"
done

python3 - "$OUT" $FORMATS <<'PY' | tee "$OUT/table.md"
import json, sys
out, formats = sys.argv[1], sys.argv[2:]
rows = [(f, json.load(open(f"{out}/{i}-{f}.json"))) for i, f in enumerate(formats, 1)]
base = next((r["wire_bytes_per_client_s"] for f, r in rows if f == "marketfeed.v1.json"), None)
print("| format | clients | B per client-second | share of v1.json | mean message B (plain) | compressed messages | binary messages | gaps | kernel p99 ms | server µs/msg |")
print("|---|---|---|---|---|---|---|---|---|---|")
for f, r in rows:
    b = r["wire_bytes_per_client_s"]
    share = f"{100 * b / base:.1f} %" if base else "-"
    print(f"| {f} | {r['connected']} | {b:.0f} | {share} | {r['mean_msg_bytes']} | {r['compressed_msgs']} | {r['binary_messages']} | {r['gaps']} | {r['latency_kernel_us']['p99'] / 1000:.1f} | {r.get('server', {}).get('cpu_us_per_msg', '-')} |")
PY
echo "results in $OUT" >&2
