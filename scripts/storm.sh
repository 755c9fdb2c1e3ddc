#!/usr/bin/env bash
# Reconnect storm (not in CI): N clients (15,000 by default) that reconnect
# like the web client (marketfeed-storm: the 1001's reconnect spread, then
# full-jitter backoff) ride through two restarts of the server on the same
# port: a SIGTERM restart (graceful, 1001 with the spread) and a kill -9
# restart (no close at all). For each it reports the time from the first
# disconnect until every client receives snapshots again, the failed
# attempts, and the TcpExtListenOverflows / ListenDrops delta of
# /proc/net/netstat during it (target 0).
#
#   scripts/storm.sh                  # 15,000 clients, 1 s ticks
#   N=2000 scripts/storm.sh           # smaller
#   SERVER_ARGS="--listen-backlog 1024" scripts/storm.sh
#   NO_BUILD=1 scripts/storm.sh       # reuse the release binaries
#
# Env: N, TICK (1s), PORT (18480), DOWN_MS (time between the old server's
# exit and the new one's start, 200), RAMP_RATE (first connects per second,
# 5000), SERVER_ARGS, STORM_ARGS, OUT.
# Output: $OUT/{storm.jsonl,server-*.log,summary.txt}
set -euo pipefail

cd "$(dirname "$0")/.."
N=${N:-15000}
TICK=${TICK:-1s}
PORT=${PORT:-18480}
DOWN_MS=${DOWN_MS:-200}
RAMP_RATE=${RAMP_RATE:-5000}
SERVER_ARGS=${SERVER_ARGS:-}
STORM_ARGS=${STORM_ARGS:-}
TARGET=${CARGO_TARGET_DIR:-target}
BIN=${BIN:-$TARGET/release}
OUT=${OUT:-$TARGET/storm/$(date -u +%Y%m%dT%H%M%SZ)}
say() { printf '[storm] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ -z "${NO_BUILD:-}" ]]; then
  cargo build --release -p marketfeed-server --bin marketfeed-server \
    -p marketfeed-tests --bin marketfeed-storm >&2
fi
mkdir -p "$OUT"

# ---- limits: one descriptor per client on each side, and the backlog ----------
ulimit -n "$(ulimit -Hn)"
nofile=$(ulimit -n)
(( nofile >= N + 1024 )) || die "ulimit -n is $nofile; $N clients need at least $((N + 1024))"
somaxconn=$(cat /proc/sys/net/core/somaxconn)
backlog=$(sed -n 's/.*--listen-backlog[ =]\([0-9]*\).*/\1/p' <<<"$SERVER_ARGS")
backlog=${backlog:-4096}
effective=$(( backlog < somaxconn ? backlog : somaxconn ))
say "ulimit -n $nofile; --listen-backlog $backlog, net.core.somaxconn $somaxconn: accept queue $effective"
say "tcp_max_syn_backlog $(cat /proc/sys/net/ipv4/tcp_max_syn_backlog), syncookies $(cat /proc/sys/net/ipv4/tcp_syncookies)"

# TcpExt counters from /proc/net/netstat: "Overflows Drops".
listen_counters() {
  awk '/^TcpExt:/ { if (!h) { for (i = 1; i <= NF; i++) k[i] = $i; h = 1 } else {
         for (i = 1; i <= NF; i++) { if (k[i] == "ListenOverflows") o = $i; if (k[i] == "ListenDrops") d = $i } } }
       END { print o + 0, d + 0 }' /proc/net/netstat
}

SERVER_PID=
STORM_PID=
server_no=0
start_server() {
  server_no=$((server_no + 1))
  local log=$OUT/server-$server_no.log
  NO_COLOR=1 "$BIN/marketfeed-server" --bind "127.0.0.1:$PORT" --tick-interval "$TICK" \
    --max-connections $((N + 1000)) $SERVER_ARGS >"$log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 200); do
    grep -qs 'listening on' "$log" && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || die "server exited: $(tail -n 5 "$log")"
    sleep 0.05
  done
  die "server did not start: $(tail -n 5 "$log")"
}
cleanup() {
  [[ -n "$STORM_PID" ]] && kill "$STORM_PID" 2>/dev/null || true
  [[ -n "$SERVER_PID" ]] && kill -TERM "$SERVER_PID" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Waits until storm.jsonl holds COUNT lines with "event":"EVENT".
await_event() { # event count timeout_s
  local deadline=$((SECONDS + $3))
  local seen
  while seen=$(grep -c "\"event\":\"$1\"" "$OUT/storm.jsonl" || true); (( ${seen:-0} < $2 )); do
    (( SECONDS < deadline )) || die "no $1 #$2 within $3 s; storm: $(tail -n 3 "$OUT/storm.jsonl")"
    kill -0 "$STORM_PID" 2>/dev/null || die "marketfeed-storm exited"
    sleep 0.1
  done
}

start_server
: >"$OUT/storm.jsonl"
say "$N clients connecting at $RAMP_RATE/s"
"$BIN/marketfeed-storm" --url "ws://127.0.0.1:$PORT/ws/market" -n "$N" --waves 2 \
  --ramp-rate "$RAMP_RATE" $STORM_ARGS >"$OUT/storm.jsonl" 2>"$OUT/storm.err" &
STORM_PID=$!
await_event ready 1 $((N / 100 + 120))
say "ready: $(grep '"event":"ready"' "$OUT/storm.jsonl")"
sleep 3

# restart SIGNAL WAVE
restart() {
  read -r o0 d0 < <(listen_counters)
  local t0=$SECONDS
  kill "-$1" "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  grep -h 'reconnect spread' "$OUT/server-$server_no.log" | sed 's/\x1b\[[0-9;]*m//g' | tail -n 1 >&2 || true
  sleep "$(awk "BEGIN { print $DOWN_MS / 1000 }")"
  start_server
  await_event recovered "$2" 300
  read -r o1 d1 < <(listen_counters)
  local line
  line=$(grep '"event":"recovered"' "$OUT/storm.jsonl" | sed -n "${2}p")
  echo "$1 restart: $line listen_overflows=$((o1 - o0)) listen_drops=$((d1 - d0))" | tee -a "$OUT/summary.txt"
  sleep 3
}
restart TERM 1
restart KILL 2
say "summary ($OUT/summary.txt):"
cat "$OUT/summary.txt" >&2
