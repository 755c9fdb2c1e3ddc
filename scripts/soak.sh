#!/usr/bin/env bash
# Soak (not in CI): 5,000 clients at 1 Hz for 10 minutes, 1 % of them
# stalled (upgrade, never read) and 1 % churning (connect, read 1–10 s,
# close, again: marketfeed-storm --mode churn), against one release server.
# Samples the server's RSS and open descriptors every 10 s, then runs the
# healthy clients alone as a baseline, and prints the verdicts:
#
#   RSS       within ±5 % between minute 2 and the end
#   fds       flat: between minute 2 and the end they stay within the
#             churning clients' count (plus 16) of their minute-2 value
#   p99       healthy clients' kernel-timestamped delivery p99 within 10 %
#             of the baseline run without the bad clients
#   gaps      0 for the healthy clients
#
#   scripts/soak.sh                                  # the full 10 minutes
#   SOAK_S=150 MARK_S=30 BASE_S=60 scripts/soak.sh   # a quick check
#   NO_BUILD=1 scripts/soak.sh
#
# Env: N (5000), TICK (1s), SOAK_S (600), MARK_S (120: the "minute 2"
# sample), BASE_S (120: the baseline's window), SERVER_ARGS, OUT.
# Output: $OUT/{samples.csv,soak.json,baseline.json,churn.jsonl,*.log,verdicts.txt}
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-5000}
TICK=${TICK:-1s}
SOAK_S=${SOAK_S:-600}
MARK_S=${MARK_S:-120}
BASE_S=${BASE_S:-120}
SERVER_ARGS=${SERVER_ARGS:-}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${BIN:-$TARGET/release}
OUT=${OUT:-$TARGET/soak/$(date -u +%Y%m%dT%H%M%SZ)}
say() { printf '[soak] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

BAD=$((N / 100))           # 1 % stalled, 1 % churning
READERS=$((N - BAD))       # loadgen clients: healthy + stalled
HEALTHY=$((N - 2 * BAD))
# Half a client over, so the loadgen's floor() spreading yields exactly BAD.
STALLED_FRACTION=$(awk "BEGIN { printf \"%.6f\", ($BAD + 0.5) / $READERS }")

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p marketfeed-server --bin marketfeed-server \
    -p marketfeed-tests --bin marketfeed-loadgen --bin marketfeed-storm >&2
fi
mkdir -p "$OUT"
ulimit -n "$(ulimit -Hn)"
(( $(ulimit -n) >= N + 1024 )) || die "ulimit -n is $(ulimit -n); need $((N + 1024))"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

SERVER_PID=
ADDR=
start_server() { # log
  NO_COLOR=1 "$BIN/marketfeed-server" --bind 127.0.0.1:0 --tick-interval "$TICK" $SERVER_ARGS >"$1" 2>&1 &
  SERVER_PID=$!
  PIDS+=("$SERVER_PID")
  ADDR=
  for _ in $(seq 200); do
    ADDR=$(sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -o 'listening on [0-9.:]*' | head -n1 | cut -d' ' -f3 || true)
    [[ -n "$ADDR" ]] && return 0
    sleep 0.05
  done
  die "server did not start: $(tail -n 5 "$1")"
}
stop_server() {
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fds() { ls "/proc/$1/fd" | wc -l; }

# ---- the soak ---------------------------------------------------------------------
start_server "$OUT/server-soak.log"
say "server $ADDR (pid $SERVER_PID): $HEALTHY healthy + $BAD stalled (loadgen) + $BAD churning (storm), ${SOAK_S}s"
"$BIN/marketfeed-storm" --url "ws://$ADDR/ws/market" --mode churn -n "$BAD" --ramp-rate 100 \
  >"$OUT/churn.jsonl" 2>"$OUT/churn.err" &
CHURN_PID=$!
PIDS+=("$CHURN_PID")
"$BIN/marketfeed-loadgen" --url "ws://$ADDR/ws/market" -n "$READERS" \
  --stalled-fraction "$STALLED_FRACTION" --warmup 5s --duration "${SOAK_S}s" \
  --server-pid "$SERVER_PID" --label soak >"$OUT/soak.json" 2>"$OUT/soak.log" &
LOADGEN_PID=$!
PIDS+=("$LOADGEN_PID")
echo "secs,rss_kib,fds" >"$OUT/samples.csv"
t0=$SECONDS
while kill -0 "$LOADGEN_PID" 2>/dev/null; do
  echo "$((SECONDS - t0)),$(rss_kib "$SERVER_PID"),$(fds "$SERVER_PID")" >>"$OUT/samples.csv"
  sleep 10
done
wait "$LOADGEN_PID" || die "loadgen failed: $(tail -n 5 "$OUT/soak.log")"
kill "$CHURN_PID" 2>/dev/null || true
stop_server
say "churn: $(tail -n 1 "$OUT/churn.jsonl")"


# ---- the baseline: the healthy clients alone --------------------------------------
start_server "$OUT/server-baseline.log"
say "baseline: $HEALTHY healthy clients alone, ${BASE_S}s"
"$BIN/marketfeed-loadgen" --url "ws://$ADDR/ws/market" -n "$HEALTHY" --warmup 5s \
  --duration "${BASE_S}s" --server-pid "$SERVER_PID" --label baseline \
  >"$OUT/baseline.json" 2>"$OUT/baseline.log"
stop_server

# ---- verdicts -----------------------------------------------------------------------
node - "$OUT" "$MARK_S" "$BAD" <<'EOF' | tee "$OUT/verdicts.txt"
const [out, markS, bad] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4])];
const fs = require("fs");
const rows = fs.readFileSync(`${out}/samples.csv`, "utf8").trim().split("\n").slice(1)
  .map((l) => l.split(",").map(Number)).filter((r) => r.length === 3 && r.every(Number.isFinite));
const after = rows.filter((r) => r[0] >= markS);
const soak = JSON.parse(fs.readFileSync(`${out}/soak.json`, "utf8"));
const base = JSON.parse(fs.readFileSync(`${out}/baseline.json`, "utf8"));
const verdict = (ok, name, text) => { console.log(`${ok ? "PASS" : "FAIL"}  ${name.padEnd(5)} ${text}`); return ok; };
let ok = true;
if (after.length < 2) {
  ok = verdict(false, "rss", `fewer than 2 samples after ${markS} s`) && ok;
} else {
  const [first, last] = [after[0], after[after.length - 1]];
  const rssDelta = (last[1] - first[1]) / first[1] * 100;
  const rssMax = Math.max(...after.map((r) => Math.abs(r[1] - first[1]) / first[1] * 100));
  ok = verdict(rssMax <= 5, "rss", `${first[1]} KiB at ${first[0]} s → ${last[1]} KiB at ${last[0]} s (${rssDelta.toFixed(2)} %, largest excursion ${rssMax.toFixed(2)} %; limit ±5 %)`) && ok;
  const fdRange = [Math.min(...after.map((r) => r[2])), Math.max(...after.map((r) => r[2]))];
  const fdOk = fdRange[0] >= first[2] - bad - 16 && fdRange[1] <= first[2] + bad + 16;
  ok = verdict(fdOk, "fds", `${first[2]} at ${first[0]} s, ${fdRange[0]}–${fdRange[1]} after, ${last[2]} at the end (limit ±${bad + 16})`) && ok;
}
const [p99, p99b] = [soak.latency_kernel_us.p99, base.latency_kernel_us.p99];
ok = verdict(p99 <= p99b * 1.10, "p99", `healthy ${p99} µs with the bad clients vs ${p99b} µs without (${((p99 / p99b - 1) * 100).toFixed(1)} %; limit +10 %)`) && ok;
ok = verdict(soak.gaps === 0 && soak.clients_with_gaps === 0, "gaps", `${soak.gaps} skipped snapshots, ${soak.clients_with_gaps} healthy clients with a gap (${soak.connected} healthy connected, ${soak.stalled} stalled, ${soak.disconnects} disconnects, ${soak.messages} messages)`) && ok;
console.log(ok ? "soak: every verdict passed" : "soak: FAILED");
process.exitCode = ok ? 0 : 1;
EOF
