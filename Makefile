# The project's commands. README names them; CI runs `make test` on a fresh clone.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      ?= .venv
PY        := $(VENV)/bin/python
PY_STAMP  := $(VENV)/.installed
JS_STAMP  := node_modules/.installed
PYTHON    ?= python3

.PHONY: help deps build build-python build-node test test-rust test-python test-node demo bench
.PHONY: tools-apt

help:
	@echo "make demo   - build and run the demo on the embedded default (no API key, no network)"
	@echo "make test   - build everything from a clean checkout and run every test"
	@echo "make bench  - side-by-side benchmarks against the peers, with ratios"

# ---- dependencies: everything a fresh machine needs is installed from here ---------------------
$(PY_STAMP): requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(JS_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: $(PY_STAMP) $(JS_STAMP)

# promtool and prometheus (Debian package `prometheus`) check the metrics exposition and scrape it
# for real in python-tests/test_metrics.py and node-tests/metrics.test.js. Installed only when
# promtool is missing.
tools-apt:
	@if ! command -v promtool >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y --no-install-recommends prometheus; \
	fi

# ---- builds: cargo's target/ is kept, so a one-line change rebuilds only what it touches -------
build-python: $(PY_STAMP)
	VIRTUAL_ENV=$(abspath $(VENV)) $(VENV)/bin/maturin develop --release -q

build-node: $(JS_STAMP)
	npm run build

build: build-python build-node

# ---- tests ----------------------------------------------------------------------------------------
test-rust:
	cargo test --workspace

test-python: build-python tools-apt
	$(PY) -m pytest python-tests
	$(PY) -m mypy.stubtest ferrule._ferrule
	$(PY) -m mypy

test-node: build-node tools-apt
	npm test

test: test-rust test-python test-node

# ---- demo and benchmarks ----------------------------------------------------------------------------
demo: build-python
	$(PY) examples/demo.py

bench: build
	cargo bench -p ferrule-core --bench '*' -- --warm-up-time 1 --measurement-time 3
	cd benches/python && for f in bench_*.py; do ../../$(PY) "$$f"; done
	npm run bench
