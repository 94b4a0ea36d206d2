#!/usr/bin/env bash
# `make dist`: every artifact of a release into dist/, then a listing with platform tags and sizes.
#   dist/wheels/  abi3 wheels: manylinux2014 (glibc 2.17+) and musllinux_1_2, x86_64 and aarch64; the sdist
#   dist/npm/     ferrule-<version>.tgz and ferrule-linux-{x64,arm64}-{gnu,musl}-<version>.tgz
# Cross builds link with zig (ziglang from PyPI; cargo-zigbuild for napi), one target at a time.
# Each tool keeps its own target dir so their flags never invalidate each other's (or `make build`'s).
set -euo pipefail
cd "$(dirname "$0")/.."

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
  echo "== wheel $t (manylinux2014)"
  maturin build --release --strip --zig --compatibility manylinux2014 --target "$t" \
    --target-dir target/zig --out dist/wheels -q
done
for t in $PY_TARGETS_MUSL; do
  echo "== wheel $t (musllinux_1_2)"
  maturin build --release --strip --zig --compatibility musllinux_1_2 --target "$t" \
    --target-dir target/zig --out dist/wheels -q
done

echo "== sdist, then built from scratch in a clean venv"
maturin sdist --out dist/wheels
rm -rf target/sdist-venv
python -m venv target/sdist-venv
CARGO_TARGET_DIR="$PWD/target/sdist" target/sdist-venv/bin/pip install -q --disable-pip-version-check dist/wheels/ferrule-*.tar.gz
(cd target && sdist-venv/bin/python -c "import ferrule; print('sdist build imports ferrule', ferrule.__version__)")

for t in $NODE_TARGETS; do
  echo "== npm native module $t"
  npx napi build --platform --release --strip --cross-compile --target "$t" --target-dir target/zig-node \
    --manifest-path bindings-node/Cargo.toml --package-json-path package.json --output-dir bindings-node \
    --js native.js --dts native.d.ts
done
python packaging/npm_pack.py --out dist/npm

python packaging/list_dist.py dist
