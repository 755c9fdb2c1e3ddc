#!/usr/bin/env bash
# Runs the standard fan-out benchmark matrix (issue 4) and prints a markdown
# table. The server is pinned to CPU 0 and the load generator to CPU 1 so
# runs are comparable; everything stays on 127.0.0.0/8.
#
#   scripts/bench-matrix.sh                 # full matrix, 20 s per case
#   DURATION=5s scripts/bench-matrix.sh     # quicker, noisier
#   CASES="1hz-8000" scripts/bench-matrix.sh
#   SERVER_ARGS="--send-buffer 65536" scripts/bench-matrix.sh
#
# Output: $CARGO_TARGET_DIR/bench/<stamp>/{results.jsonl,floor.jsonl,*.log,table.md}
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
SERVER_ARGS=${SERVER_ARGS:-}
LOADGEN_ARGS=${LOADGEN_ARGS:-}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
# Frame payload for the kernel floor: the size of the server's snapshots
# (the loadgen reports it as mean_msg_bytes; ~12.4 KB with the VN30 feed).
FLOOR_BYTES=${FLOOR_BYTES:-12400}
CASES=${CASES:-"1hz-1000 1hz-8000 1hz-15000 10hz-2000 50hz-500 10hz-2000-stalled floor"}
OUT=${OUT:-${CARGO_TARGET_DIR:-target}/bench/$(date -u +%Y%m%dT%H%M%SZ)}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p marketfeed-server -p marketfeed-tests --bins
fi
mkdir -p "$OUT"
# Both sides need one descriptor per client.
ulimit -n "$(ulimit -Hn)"

SERVER_PID=
stop_server() {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=
}
trap stop_server EXIT

# run_case LABEL TICK CLIENTS STALLED_FRACTION
run_case() {
  local label=$1 tick=$2 clients=$3 stalled=$4 log=$OUT/$1.server.log
  NO_COLOR=1 taskset -c "$SERVER_CPU" "$BIN/marketfeed-server" --bind 127.0.0.1:0 \
    --tick-interval "$tick" $SERVER_ARGS >"$log" 2>&1 &
  SERVER_PID=$!
  local addr=
  for _ in $(seq 100); do
    addr=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'listening on [0-9.:]*' | head -n1 | cut -d' ' -f3 || true)
    [[ -n "$addr" ]] && break
    sleep 0.1
  done
  [[ -n "$addr" ]] || { echo "server did not start: $(cat "$log")" >&2; exit 1; }
  echo "== $label: $clients clients, tick $tick, stalled $stalled (server $addr, pid $SERVER_PID)" >&2
  taskset -c "$LOADGEN_CPU" "$BIN/marketfeed-loadgen" --url "ws://$addr/ws/market" \
    --clients "$clients" --duration "$DURATION" --stalled-fraction "$stalled" \
    --server-pid "$SERVER_PID" --label "$label" $LOADGEN_ARGS \
    2> >(tee "$OUT/$label.loadgen.log" >&2) | tail -n1 >"$OUT/$label.json"
  stop_server
  # The server logs its tick and serialization counters when it stops.
  local counters
  counters=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'ticks=[0-9]* serializations=[0-9]*' | tail -n1 || true)
  python3 - "$OUT/$label.json" "$counters" >>"$OUT/results.jsonl" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
kv = dict(p.split("=") for p in sys.argv[2].split())
r["server_ticks"] = int(kv["ticks"]) if "ticks" in kv else None
r["server_serializations"] = int(kv["serializations"]) if "serializations" in kv else None
print(json.dumps(r))
PY
}

run_floor() {
  for n in 1000 8000 15000; do
    echo "== floor: $n sockets" >&2
    taskset -c "$SERVER_CPU" "$BIN/marketfeed-sendfloor" --clients "$n" --frame-bytes "$FLOOR_BYTES" --sink-cpu "$LOADGEN_CPU" \
      2> >(tee -a "$OUT/floor.log" >&2) | tail -n1 >>"$OUT/floor.jsonl"
  done
}

for c in $CASES; do
  case $c in
    1hz-1000) run_case "$c" 1s 1000 0 ;;
    1hz-8000) run_case "$c" 1s 8000 0 ;;
    1hz-15000) run_case "$c" 1s 15000 0 ;;
    10hz-2000) run_case "$c" 100ms 2000 0 ;;
    50hz-500) run_case "$c" 20ms 500 0 ;;
    10hz-2000-stalled) run_case "$c" 100ms 2000 0.01 ;;
    floor) run_floor ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done

touch "$OUT/results.jsonl" "$OUT/floor.jsonl"
python3 - "$OUT/results.jsonl" "$OUT/floor.jsonl" <<'PY' | tee "$OUT/table.md"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
floor = {f["clients"]: f for f in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}
ms = lambda us: f"{us / 1000:.2f}"
print("| case | clients (+stalled) | msg B | msg/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | p99 user-rx ms | gaps | disc. | fail | fan-out p50 ms | floor ms | ratio | RSS KiB/client | RSS end MiB | CPU s/1k msg | µs/msg | ticks / serializations |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    k, u, f, s = r["latency_kernel_us"], r["latency_user_us"], r["fanout_last_us"], r.get("server") or {}
    fl = floor.get(r["clients"])
    fl_ms = fl["round_p50_us"] / 1000 if fl else None
    ratio = f"{f['p50'] / 1000 / fl_ms:.2f}×" if fl_ms and f["count"] else "–"
    print(f"| {r['label']} | {r['connected']} (+{r['stalled']}) | {r.get('mean_msg_bytes', '–')} | {r['msgs_per_s']:.0f} | {ms(k['p50'])} | {ms(k['p90'])} | {ms(k['p99'])} | {ms(k['p999'])} | {ms(k['max'])} | {ms(u['p99'])} "
          f"| {r['gaps']} | {r['disconnects']} | {r['connect_failures']} | {ms(f['p50']) if f['count'] else '–'} | {f'{fl_ms:.2f}' if fl_ms else '–'} | {ratio} "
          f"| {s.get('rss_per_client_kib', '–')} | {s.get('rss_end_kib', 0) / 1024:.1f} | {s.get('cpu_s_per_1k_msgs', '–')} | {s.get('cpu_us_per_msg', '–')} | {r.get('server_ticks')} / {r.get('server_serializations')} |")
if floor:
    print()
    print("| kernel floor: sockets | round p50 ms | round min ms | µs per send | CPU µs per send |")
    print("|---|---|---|---|---|")
    for n, f in sorted(floor.items()):
        print(f"| {n} | {f['round_p50_us'] / 1000:.2f} | {f['round_min_us'] / 1000:.2f} | {f['per_send_us']} | {f['cpu_per_send_us']} |")
PY
echo "results in $OUT" >&2
