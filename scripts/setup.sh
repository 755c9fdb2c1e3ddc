#!/usr/bin/env bash
# Installs what building and testing marketfeed needs and is missing, from
# the package registries only (Debian, crates.io, npm): the wasm32 target,
# wasm-pack, the wasm-bindgen CLI at the Cargo.lock version, cargo-fuzz,
# Debian's chromium + chromium-driver, Debian's prometheus (for promtool),
# Debian's nats-server (the broker the multi-node tests start), and the
# browser tests' node packages.
# Safe to re-run: every step is skipped when already satisfied.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
say() { printf '[setup] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

WASM_PACK_VERSION=0.15.1
browser=1
[[ "${1:-}" == "--no-browser" ]] && browser=0 # running needs no browser

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first"
command -v node >/dev/null || die "node not found: Node.js 18+ with npm is required"

# Debian's binaryen (108) produces .wasm files that fail in Chromium, and
# wasm-pack would pick its wasm-opt from PATH: refuse to run with it.
if dpkg -s binaryen >/dev/null 2>&1; then
  die "Debian's binaryen is installed; its wasm-opt breaks the client (apt-get remove binaryen)"
fi

if [[ $browser == 1 ]] && { ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; }; then
  say "installing chromium and chromium-driver (Debian)"
  [[ $(id -u) -eq 0 ]] || die "root needed to apt-get install chromium chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

# The multi-node tests start their own nats-server on a free loopback port;
# Debian's package ships the binary (and a service that is not started
# here: the tests need no running broker).
if ! command -v nats-server >/dev/null; then
  say "installing nats-server (Debian)"
  [[ $(id -u) -eq 0 ]] || die "root needed to apt-get install nats-server"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nats-server >/dev/null
fi

# promtool checks deploy/alerts.yml. Debian's prometheus package enables and
# tries to start a prometheus service: a policy-rc.d that denies starts is
# in place during the install (unless one exists), and any service that
# started anyway is stopped, so none is left running.
if ! command -v promtool >/dev/null; then
  say "installing prometheus for promtool (Debian)"
  [[ $(id -u) -eq 0 ]] || die "root needed to apt-get install prometheus"
  policy=/usr/sbin/policy-rc.d own_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && own_policy=1
  fi
  installed=1
  { apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } ||
    installed=0
  if [[ $own_policy == 1 ]]; then rm -f "$policy"; fi
  [[ $installed == 1 ]] || die "apt-get install prometheus failed"
  # Neither running now nor started at boot (disable works without a
  # running systemd too: it only removes the enablement links).
  if command -v systemctl >/dev/null; then
    systemctl disable --now prometheus >/dev/null 2>&1 || systemctl disable prometheus >/dev/null 2>&1 || true
  fi
  if command -v invoke-rc.d >/dev/null; then invoke-rc.d prometheus stop >/dev/null 2>&1 || true; fi
fi

if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  say "adding rustfmt and clippy"
  rustup component add rustfmt clippy
fi

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if [[ "$(wasm-pack --version 2>/dev/null | awk '{print $2}')" != "$WASM_PACK_VERSION" ]]; then
  say "installing wasm-pack $WASM_PACK_VERSION (a few minutes)"
  cargo install wasm-pack --version "$WASM_PACK_VERSION" --locked
fi

# The CLI must equal the wasm-bindgen crate in Cargo.lock, or wasm-pack
# would try to download one. Installed without --locked: its own lockfile
# pins a crate version the registry mirror does not serve.
bindgen="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[[ -n "$bindgen" ]] || die "wasm-bindgen not found in Cargo.lock"
if [[ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$bindgen" ]]; then
  say "installing wasm-bindgen-cli $bindgen (a few minutes)"
  cargo install wasm-bindgen-cli --version "$bindgen"
fi

CARGO_FUZZ_VERSION=0.13.2
if [[ "$(cargo fuzz --version 2>/dev/null | awk '{print $2}')" != "$CARGO_FUZZ_VERSION" ]]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION (a few minutes)"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

if [[ ! -d tests/browser/node_modules/playwright-core || tests/browser/package-lock.json -nt tests/browser/node_modules/.package-lock.json ]]; then
  say "installing the browser tests' node packages (npm ci)"
  npm ci --prefix tests/browser --no-audit --no-fund >&2
fi
say "ready"
