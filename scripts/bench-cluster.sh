#!/usr/bin/env bash
# The multi-node benchmark (issue 11), in one sitting:
#   1. embedded: one node with the simulator, 1 Hz, CLIENTS clients;
#   2. nats: the same clients on one edge fed by a publisher through a real
#      nats-server (EDGES edges subscribed, clients on the first only);
# and, from the nats case, the publisher → broker → edge latency (the
# edge's marketfeed_bus_latency_seconds histogram: publisher's `ts` to
# receipt at the edge) and the broker's messages per tick (nats-server
# monitoring /varz in_msgs / out_msgs against the publisher's ticks).
# Client latency is the loadgen's: kernel receive time minus the snapshot's
# `ts`, so in the nats case it includes the broker hop.
#
# The measured node (single node or edge) is pinned to SERVER_CPU, the
# load generator to LOADGEN_CPU; the publisher, nats-server and the other
# edges share LOADGEN_CPU (they do one message per tick).
#
#   scripts/bench-cluster.sh                         # 8,000 clients, 20 s per case
#   CLIENTS=1000 DURATION=5s scripts/bench-cluster.sh  # quick check of the script
#   CASES=nats EDGES=3 scripts/bench-cluster.sh
#
# Output: $CARGO_TARGET_DIR/bench-cluster/<stamp>/{*.json,*.log,table.md}
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CLIENTS=${CLIENTS:-8000}
EDGES=${EDGES:-2}
CASES=${CASES:-"embedded nats"}
SERVER_CPU=${SERVER_CPU:-0}
LOADGEN_CPU=${LOADGEN_CPU:-1}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=$TARGET/release
OUT=${OUT:-$TARGET/bench-cluster/$(date -u +%Y%m%dT%H%M%SZ)}

command -v nats-server >/dev/null || { echo "nats-server not found (scripts/setup.sh installs it)" >&2; exit 1; }
if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p marketfeed-server -p marketfeed-tests --bins
fi
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"

PIDS=()
stop_all() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  PIDS=()
}
trap stop_all EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_node LOG CPU ARGS... : starts marketfeed-server, sets NODE_PID and NODE_ADDR.
start_node() {
  local log=$1 cpu=$2
  shift 2
  NO_COLOR=1 taskset -c "$cpu" "$BIN/marketfeed-server" "$@" >"$log" 2>&1 &
  NODE_PID=$!
  PIDS+=("$NODE_PID")
  NODE_ADDR=
  for _ in $(seq 100); do
    NODE_ADDR=$(sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -o 'listening on [0-9.:]*' | head -n1 | cut -d' ' -f3 || true)
    [[ -n "$NODE_ADDR" ]] && return
    sleep 0.1
  done
  echo "node did not start: $(cat "$log")" >&2
  exit 1
}

metrics() { curl -s "http://$1/metrics"; }

# load LABEL ADDR PID : runs the loadgen against ADDR, measuring PID.
load() {
  local label=$1 addr=$2 pid=$3
  echo "== $label: $CLIENTS clients, 1 Hz, $DURATION (node $addr, pid $pid)" >&2
  taskset -c "$LOADGEN_CPU" "$BIN/marketfeed-loadgen" --url "ws://$addr/ws/market" \
    --clients "$CLIENTS" --duration "$DURATION" --server-pid "$pid" --label "$label" \
    2> >(tee "$OUT/$label.loadgen.log" >&2) | tail -n1 >"$OUT/$label.json"
}

run_embedded() {
  start_node "$OUT/embedded.server.log" "$SERVER_CPU" --bind 127.0.0.1:0 --tick-interval 1s
  load embedded "$NODE_ADDR" "$NODE_PID"
  stop_all
}

run_nats() {
  local port mport
  port=$(free_port)
  mport=$(free_port)
  taskset -c "$LOADGEN_CPU" nats-server -a 127.0.0.1 -p "$port" -m "$mport" >"$OUT/nats-server.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$mport/varz" >/dev/null && break; sleep 0.1; done
  local edges=() edge_pid=
  for i in $(seq "$EDGES"); do
    local cpu=$LOADGEN_CPU
    [[ $i == 1 ]] && cpu=$SERVER_CPU
    start_node "$OUT/edge$i.log" "$cpu" --bind 127.0.0.1:0 --tick-interval 1s \
      --feed "nats://127.0.0.1:$port/bench.ticks"
    edges+=("$NODE_ADDR")
    [[ $i == 1 ]] && edge_pid=$NODE_PID
  done
  start_node "$OUT/publisher.log" "$LOADGEN_CPU" publish --nats "nats://127.0.0.1:$port" \
    --subject bench.ticks --bind 127.0.0.1:0 --tick-interval 1s
  local publisher=$NODE_ADDR
  # Counters at the start of the measured window.
  local pub0
  curl -s "http://127.0.0.1:$mport/varz" >"$OUT/varz.start.json"
  pub0=$(metrics "$publisher" | awk '$1=="marketfeed_bus_published_total"{print $2}')
  load nats "${edges[0]}" "$edge_pid"
  local pub1
  curl -s "http://127.0.0.1:$mport/varz" >"$OUT/varz.end.json"
  pub1=$(metrics "$publisher" | awk '$1=="marketfeed_bus_published_total"{print $2}')
  metrics "${edges[0]}" >"$OUT/edge1.metrics"
  python3 - "$OUT/edge1.metrics" "$pub0" "$pub1" "$EDGES" "$OUT" >"$OUT/bus.json" <<'PY'
import json, sys
v0 = json.load(open(sys.argv[5] + "/varz.start.json"))
v1 = json.load(open(sys.argv[5] + "/varz.end.json"))
buckets = []
for line in open(sys.argv[1]):
    if line.startswith("marketfeed_bus_latency_seconds_bucket"):
        le = line.split('le="')[1].split('"')[0]
        buckets.append((float("inf") if le == "+Inf" else float(le), float(line.split()[-1])))
    if line.startswith("marketfeed_bus_latency_seconds_sum"):
        total = float(line.split()[-1])
    if line.startswith("marketfeed_bus_latency_seconds_count"):
        count = float(line.split()[-1])
def q(p):
    # Linear within the bucket that holds the quantile (doubling bounds).
    want, lo, below = p * count, 0.0, 0.0
    for le, n in buckets:
        if n >= want:
            if le == float("inf") or n == below:
                return le
            return lo + (le - lo) * (want - below) / (n - below)
        lo, below = le, n
    return float("nan")
ticks = float(sys.argv[3]) - float(sys.argv[2])
d_in, d_out = v1["in_msgs"] - v0["in_msgs"], v1["out_msgs"] - v0["out_msgs"]
print(json.dumps({
    "edges": int(sys.argv[4]),
    "ticks_published": ticks,
    "broker_in_msgs": d_in,
    "broker_out_msgs": d_out,
    "broker_in_per_tick": d_in / ticks if ticks else None,
    "broker_out_per_tick": d_out / ticks if ticks else None,
    "bus_latency_count": count,
    "bus_latency_mean_ms": 1000 * total / count if count else None,
    "bus_latency_p50_ms": 1000 * q(0.5),
    "bus_latency_p99_ms": 1000 * q(0.99),
}))
PY
  cat "$OUT/bus.json" >&2
  stop_all
}

for c in $CASES; do
  case $c in
    embedded) run_embedded ;;
    nats) run_nats ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done

python3 - "$OUT" <<'PY' | tee "$OUT/table.md"
import json, os, sys
out = sys.argv[1]
ms = lambda us: f"{us / 1000:.2f}"
print("| case | clients | msg B | p50 ms | p99 ms | p99.9 ms | max ms | gaps | disc. | CPU s/1k msg | µs/msg |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for label in ("embedded", "nats"):
    path = os.path.join(out, f"{label}.json")
    if not os.path.exists(path):
        continue
    r = json.load(open(path))
    k, s = r["latency_kernel_us"], r.get("server") or {}
    print(f"| {label} | {r['connected']} | {r.get('mean_msg_bytes', '–')} | {ms(k['p50'])} | {ms(k['p99'])} | {ms(k['p999'])} | {ms(k['max'])} "
          f"| {r['gaps']} | {r['disconnects']} | {s.get('cpu_s_per_1k_msgs', '–')} | {s.get('cpu_us_per_msg', '–')} |")
bus = os.path.join(out, "bus.json")
if os.path.exists(bus):
    b = json.load(open(bus))
    print()
    print("| edges | ticks published | broker in / tick | broker out / tick | publisher→edge p50 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {b['edges']} | {b['ticks_published']:.0f} | {b['broker_in_per_tick']:.2f} | {b['broker_out_per_tick']:.2f} "
          f"| {b['bus_latency_p50_ms']:.3f} | {b['bus_latency_p99_ms']:.3f} | {b['bus_latency_mean_ms']:.3f} |")
PY
