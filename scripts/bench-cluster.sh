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
#   ROUNDS=5 scripts/bench-cluster.sh                # 5 pairs, order alternating
#
# With ROUNDS > 1 the cases run ROUNDS times, the order reversed every
# other round (embedded, nats, nats, embedded, …) so that drift on the
# machine falls on both alike; the summary gives each round's deltas and
# their median.
#
# Output: $CARGO_TARGET_DIR/bench-cluster/<stamp>/{*.json,*.log,table.md}
# (files of round N > 1 carry a .rN suffix).
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-20s}
CLIENTS=${CLIENTS:-8000}
EDGES=${EDGES:-2}
CASES=${CASES:-"embedded nats"}
ROUNDS=${ROUNDS:-1}
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

# Suffix of the current round's files ("" in round 1).
R=

run_embedded() {
  start_node "$OUT/embedded$R.server.log" "$SERVER_CPU" --bind 127.0.0.1:0 --tick-interval 1s
  load "embedded$R" "$NODE_ADDR" "$NODE_PID"
  stop_all
}

run_nats() {
  local port mport
  port=$(free_port)
  mport=$(free_port)
  taskset -c "$LOADGEN_CPU" nats-server -a 127.0.0.1 -p "$port" -m "$mport" >"$OUT/nats-server$R.log" 2>&1 &
  PIDS+=("$!")
  for _ in $(seq 50); do curl -sf "http://127.0.0.1:$mport/varz" >/dev/null && break; sleep 0.1; done
  local edges=() edge_pid=
  for i in $(seq "$EDGES"); do
    local cpu=$LOADGEN_CPU
    [[ $i == 1 ]] && cpu=$SERVER_CPU
    start_node "$OUT/edge$i$R.log" "$cpu" --bind 127.0.0.1:0 --tick-interval 1s \
      --feed "nats://127.0.0.1:$port/bench.ticks"
    edges+=("$NODE_ADDR")
    [[ $i == 1 ]] && edge_pid=$NODE_PID
  done
  start_node "$OUT/publisher$R.log" "$LOADGEN_CPU" publish --nats "nats://127.0.0.1:$port" \
    --subject bench.ticks --bind 127.0.0.1:0 --tick-interval 1s
  local publisher=$NODE_ADDR
  # Counters at the start of the measured window.
  local pub0
  curl -s "http://127.0.0.1:$mport/varz" >"$OUT/varz.start$R.json"
  pub0=$(metrics "$publisher" | awk '$1=="marketfeed_bus_published_total"{print $2}')
  load "nats$R" "${edges[0]}" "$edge_pid"
  local pub1
  curl -s "http://127.0.0.1:$mport/varz" >"$OUT/varz.end$R.json"
  pub1=$(metrics "$publisher" | awk '$1=="marketfeed_bus_published_total"{print $2}')
  metrics "${edges[0]}" >"$OUT/edge1$R.metrics"
  python3 - "$OUT/edge1$R.metrics" "$pub0" "$pub1" "$EDGES" "$OUT" "$R" >"$OUT/bus$R.json" <<'PY'
import json, sys
v0 = json.load(open(sys.argv[5] + f"/varz.start{sys.argv[6]}.json"))
v1 = json.load(open(sys.argv[5] + f"/varz.end{sys.argv[6]}.json"))
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
d_in_bytes = v1["in_bytes"] - v0["in_bytes"]
print(json.dumps({
    "edges": int(sys.argv[4]),
    "ticks_published": ticks,
    "broker_in_msgs": d_in,
    "broker_out_msgs": d_out,
    "broker_in_per_tick": d_in / ticks if ticks else None,
    "broker_out_per_tick": d_out / ticks if ticks else None,
    "broker_bytes_per_msg_in": d_in_bytes / d_in if d_in else None,
    "bus_latency_count": count,
    "bus_latency_mean_ms": 1000 * total / count if count else None,
    "bus_latency_p50_ms": 1000 * q(0.5),
    "bus_latency_p99_ms": 1000 * q(0.99),
}))
PY
  cat "$OUT/bus$R.json" >&2
  stop_all
}

for c in $CASES; do
  case $c in
    embedded | nats) ;;
    *) echo "unknown case $c" >&2; exit 2 ;;
  esac
done
for round in $(seq "$ROUNDS"); do
  R=
  [[ $round == 1 ]] || R=.r$round
  order=$CASES
  # Every other round the other way round.
  (( round % 2 == 0 )) && order=$(printf '%s\n' $CASES | tac | xargs)
  for c in $order; do
    "run_$c"
  done
done

python3 - "$OUT" "$ROUNDS" <<'PY' | tee "$OUT/table.md"
import json, os, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
ms = lambda us: f"{us / 1000:.2f}"
suffix = lambda n: "" if n == 1 else f".r{n}"
def load(name):
    path = os.path.join(out, name)
    return json.load(open(path)) if os.path.exists(path) else None
print("| round | case | clients | msg B | p50 ms | p99 ms | p99.9 ms | max ms | gaps | disc. | CPU s/1k msg | µs/msg |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
pairs = []
for n in range(1, rounds + 1):
    runs = {}
    for label in ("embedded", "nats"):
        r = load(f"{label}{suffix(n)}.json")
        if r is None:
            continue
        runs[label] = r
        k, s = r["latency_kernel_us"], r.get("server") or {}
        print(f"| {n} | {label} | {r['connected']} | {r.get('mean_msg_bytes', '–')} | {ms(k['p50'])} | {ms(k['p99'])} | {ms(k['p999'])} | {ms(k['max'])} "
              f"| {r['gaps']} | {r['disconnects']} | {s.get('cpu_s_per_1k_msgs', '–')} | {s.get('cpu_us_per_msg', '–')} |")
    if len(runs) == 2:
        e, x = runs["embedded"], runs["nats"]
        cpu_e, cpu_x = (e.get("server") or {}).get("cpu_us_per_msg"), (x.get("server") or {}).get("cpu_us_per_msg")
        pairs.append((n, (x["latency_kernel_us"]["p99"] - e["latency_kernel_us"]["p99"]) / 1000,
                      100 * (cpu_x / cpu_e - 1) if cpu_e and cpu_x else float("nan")))
if pairs:
    print()
    print("| round | Δ p99 ms (edge − embedded) | Δ CPU/msg % |")
    print("|---|---|---|")
    for n, dp, dc in pairs:
        print(f"| {n} | {dp:+.1f} | {dc:+.1f} |")
    if len(pairs) > 1:
        print(f"| median | {statistics.median(p[1] for p in pairs):+.1f} | {statistics.median(p[2] for p in pairs):+.1f} |")
        print(f"| mean | {statistics.mean(p[1] for p in pairs):+.1f} | {statistics.mean(p[2] for p in pairs):+.1f} |")
buses = [(n, load(f"bus{suffix(n)}.json")) for n in range(1, rounds + 1)]
buses = [(n, b) for n, b in buses if b]
if buses:
    print()
    print("| round | edges | ticks published | broker in / tick | broker out / tick | B / message | publisher→edge p50 ms | p99 ms | mean ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n, b in buses:
        print(f"| {n} | {b['edges']} | {b['ticks_published']:.0f} | {b['broker_in_per_tick']:.2f} | {b['broker_out_per_tick']:.2f} | {b['broker_bytes_per_msg_in']:.0f} "
              f"| {b['bus_latency_p50_ms']:.3f} | {b['bus_latency_p99_ms']:.3f} | {b['bus_latency_mean_ms']:.3f} |")
PY
