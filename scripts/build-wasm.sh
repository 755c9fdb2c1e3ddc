#!/usr/bin/env bash
# Builds the browser client's npm packages with wasm-pack, release profile,
# without downloading anything:
#   web-client/pkg      --target bundler  (the npm package for bundlers)
#   web-client/pkg-web  --target web      (ES module for <script type="module">)
#   www/pkg             copy of pkg-web, imported by the live board
#
# Needs: cargo + the wasm32-unknown-unknown target, wasm-pack, and the
# wasm-bindgen CLI at exactly the version in Cargo.lock (wasm-pack runs with
# --mode no-install, so a mismatch fails here instead of downloading).
# wasm-opt: npm's binaryen from tests/browser/node_modules (installed with
# `npm ci` there when npm is available); never Debian's binaryen. Without
# it the .wasm is left unoptimised (larger, still correct).
#
# Env: MARKETFEED_WASM_OPT=auto (default) | off
#      MARKETFEED_WASM_TARGETS="bundler web" (default) — which packages to build
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '[build-wasm] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v wasm-pack >/dev/null || die "wasm-pack not found (cargo install wasm-pack --version 0.15.1 --locked)"
want="$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)"
[[ -n "$want" ]] || die "wasm-bindgen not found in Cargo.lock"
have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" || true
[[ "$have" == "$want" ]] || die "wasm-bindgen CLI ${have:-missing}, Cargo.lock has $want (cargo install wasm-bindgen-cli --version $want)"
rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
  || die "rust target wasm32-unknown-unknown missing (rustup target add wasm32-unknown-unknown)"

# wasm-pack's own wasm-opt step ignores per-profile flags for a custom
# --profile, so it is always disabled and wasm-opt runs below instead.
wasm_opt=""
case "${MARKETFEED_WASM_OPT:-auto}" in
  off) ;;
  auto)
    bin="$root/tests/browser/node_modules/.bin"
    if [[ ! -x "$bin/wasm-opt" ]] && command -v npm >/dev/null; then
      say "installing npm's binaryen for wasm-opt (npm ci in tests/browser)"
      npm ci --prefix tests/browser --no-audit --no-fund >&2 || say "npm ci failed"
    fi
    if [[ -x "$bin/wasm-opt" ]]; then
      wasm_opt="$bin/wasm-opt"
      say "wasm-opt: $("$wasm_opt" --version) (npm binaryen)"
    else
      say "npm binaryen not available: building without wasm-opt"
    fi
    ;;
  *) die "MARKETFEED_WASM_OPT must be auto or off" ;;
esac

build() { # target out-dir
  say "wasm-pack build --target $1 -> web-client/$2"
  wasm-pack --quiet build web-client --mode no-install --target "$1" --out-dir "$2" \
    --profile wasm-release --no-opt >&2
  local wasm="web-client/$2/marketfeed_web_client_bg.wasm"
  if [[ -n "$wasm_opt" ]]; then
    # Features rustc enables by default for wasm32-unknown-unknown.
    "$wasm_opt" "$wasm" -o "$wasm.opt" -Oz --strip-debug --strip-producers \
      --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
      --enable-mutable-globals --enable-reference-types --enable-multivalue
    mv "$wasm.opt" "$wasm"
  fi
  cp web-client/README.md "web-client/$2/README.md"
}

for target in ${MARKETFEED_WASM_TARGETS:-bundler web}; do
  case "$target" in
    bundler) build bundler pkg ;;
    web)
      build web pkg-web
      rm -rf www/pkg
      mkdir -p www/pkg
      cp web-client/pkg-web/marketfeed_web_client.js web-client/pkg-web/marketfeed_web_client_bg.wasm \
        web-client/pkg-web/marketfeed_web_client.d.ts web-client/pkg-web/package.json www/pkg/
      ;;
    *) die "unknown target $target" ;;
  esac
done

# Sizes of what a browser downloads for the board: the .wasm plus the JS glue.
if [[ -d web-client/pkg-web ]]; then
  wasm=web-client/pkg-web/marketfeed_web_client_bg.wasm
  js=web-client/pkg-web/marketfeed_web_client.js
  raw_w=$(stat -c %s "$wasm"); gz_w=$(gzip -9c "$wasm" | wc -c)
  raw_j=$(stat -c %s "$js"); gz_j=$(gzip -9c "$js" | wc -c)
  total=$((gz_w + gz_j))
  say "sizes: .wasm ${raw_w} B (gzip ${gz_w} B), glue .js ${raw_j} B (gzip ${gz_j} B), total gzip ${total} B"
  # The download's budget (web-client/README.md), held for optimized builds.
  budget=70000
  if [[ -n "$wasm_opt" ]] && ((total > budget)); then
    die "the web client's download is ${total} B gzipped, over its budget of ${budget} B"
  fi
fi
