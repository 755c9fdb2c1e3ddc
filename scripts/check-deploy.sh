#!/usr/bin/env bash
# Static checks of the operator's kit in deploy/: the alert rules with
# `promtool check rules` (Debian's prometheus package), the systemd unit
# with `systemd-analyze verify` where systemd-analyze exists (skipped, with
# a note, where it does not). The dashboard's metric names are checked
# against a live server by tests/tests/deploy_kit.rs (cargo test).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '[check-deploy] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v promtool >/dev/null || die "promtool not found (scripts/setup.sh installs Debian's prometheus)"
promtool check rules deploy/alerts.yml >&2

if command -v systemd-analyze >/dev/null; then
  # verify wants ExecStart's binary to exist: point it at the built one.
  cargo build -p marketfeed-server --bin marketfeed-server >&2
  target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  sed "s#/usr/local/bin/marketfeed-server#$target_dir/debug/marketfeed-server#" \
    deploy/marketfeed.service >"$work/marketfeed.service"
  out="$(systemd-analyze verify "$work/marketfeed.service" 2>&1)" || die "systemd-analyze verify failed:
$out"
  # verify exits 0 on some warnings: any line naming the unit is one.
  if grep -q 'marketfeed.service' <<<"$out"; then die "systemd-analyze verify:
$out"; fi
  say "systemd-analyze verify: ok"
else
  say "systemd-analyze not available: unit check skipped"
fi
say "deploy/ ok"
