#!/usr/bin/env bash
# Fuzzes marketfeed's parsers of untrusted input with cargo-fuzz
# (libFuzzer + AddressSanitizer), one target after the other.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Default: 600 s for each of frame_reader, frame_diff, handshake,
# client_message, ingest. scripts/test.sh runs it with 20 s per target as a smoke
# run. New corpus entries go to fuzz/corpus/TARGET (not committed); the
# committed seeds in fuzz/seeds/TARGET are read, never written. A finding
# is saved under fuzz/artifacts/TARGET/ and makes the script fail; replay
# it with `RUSTC_BOOTSTRAP=1 cargo fuzz run -O TARGET fuzz/artifacts/TARGET/crash-…`
# from fuzz/. cargo-fuzz needs nightly features: RUSTC_BOOTSTRAP=1 lets the
# stable toolchain build them (scripts/setup.sh installs cargo-fuzz).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/fuzz"
say() { printf '[fuzz] %s\n' "$*" >&2; }

secs="${1:-600}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(frame_reader frame_diff handshake client_message ingest)
[[ "$secs" =~ ^[0-9]+$ && "$secs" -gt 0 ]] || { say "error: seconds must be a positive integer"; exit 2; }
command -v cargo-fuzz >/dev/null || { say "error: cargo-fuzz missing (scripts/setup.sh installs it)"; exit 2; }

export RUSTC_BOOTSTRAP=1
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  say "$t: ${secs}s"
  log="$(mktemp)"
  if ! cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=2048 >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    say "$t: FAILED (input saved under fuzz/artifacts/$t/)"
    exit 1
  fi
  execs="$(awk '/stat::number_of_executed_units/ {print $NF}' "$log")"
  say "$t: ok, ${execs:-?} executions, corpus $(find "corpus/$t" -type f | wc -l) entries"
  rm -f "$log"
done
