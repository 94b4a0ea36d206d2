#!/usr/bin/env bash
# `make dist`: every artifact of a release into dist/, then a listing with platform tags and sizes.
#   dist/wheels/  abi3 wheels: manylinux2014 (glibc 2.17+) and musllinux_1_2, x86_64 and aarch64; the sdist
#   dist/npm/     ferrule-<version>.tgz and ferrule-linux-{x64,arm64}-{gnu,musl}-<version>.tgz
# Cross builds link with zig (ziglang from PyPI; cargo-zigbuild for napi), one target at a time.
# Each tool keeps its own target dir so their flags never invalidate each other's (or `make build`'s).
set -euo pipefail
cd "$(dirname "$0")/.."
START=$SECONDS
step() { echo "== [$((SECONDS - START))s] $*"; }

PY_TARGETS_GNU="x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu"
PY_TARGETS_MUSL="x86_64-unknown-linux-musl aarch64-unknown-linux-musl"
NODE_TARGETS=$(node -p "require('./package.json').napi.targets.join(' ')")

# Rust's standard library for each target (rustup; a no-op when present).
rustup target add $PY_TARGETS_GNU $PY_TARGETS_MUSL $NODE_TARGETS

rm -rf dist
mkdir -p dist/wheels dist/npm

# napi's --cross-compile looks for `zig` on PATH; ziglang (PyPI) ships it as `python -m ziglang`.
mkdir -p target/zig-bin
printf '#!/bin/sh\nexec python -m ziglang "$@"\n' > target/zig-bin/zig
chmod +x target/zig-bin/zig
export PATH="$PWD/target/zig-bin:$PATH"

for t in $PY_TARGETS_GNU; do
  step "wheel $t (manylinux2014)"
  maturin build --release --strip --zig --compatibility manylinux2014 --target "$t" \
    --target-dir target/zig --out dist/wheels -q
done
for t in $PY_TARGETS_MUSL; do
  step "wheel $t (musllinux_1_2)"
  maturin build --release --strip --zig --compatibility musllinux_1_2 --target "$t" \
    --target-dir target/zig --out dist/wheels -q
done

# pip compiles the sdist's own copy of the crates (unpacked elsewhere, so cargo keeps them apart
# from the checkout's); the registry crates are shared with `make build-python`'s target dir.
step "sdist, then compiled by pip in a clean venv and the README's quick start run from it"
maturin sdist --out dist/wheels
CARGO_TARGET_DIR="$PWD/target" python packaging/smoke.py python dist/wheels/ferrule-*.tar.gz

for t in $NODE_TARGETS; do
  step "npm native module $t"
  # A glibc target is pinned to glibc 2.17 (`<triple>.2.17`, which cargo-zigbuild hands to zig), as
  # the manylinux2014 wheels are; unpinned, zig links against a newer glibc (2.30 symbols seen).
  case "$t" in *-gnu) zt="$t.2.17" ;; *) zt="$t" ;; esac
  npx napi build --platform --release --strip --cross-compile --target "$zt" --target-dir target/zig-node \
    --manifest-path bindings-node/Cargo.toml --package-json-path package.json --output-dir bindings-node \
    --js native.js --dts native.d.ts
done
step "npm packages"
python packaging/npm_pack.py --out dist/npm

step "listing and checks"
python packaging/list_dist.py dist
echo "make dist took $((SECONDS - START))s"
