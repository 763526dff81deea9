# quanyi developer entry points. `make test` is what CI runs (.ci/run).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
VENV_STAMP := $(VENV)/.quanyi-installed
NODE_STAMP := node_modules/.package-lock.json
# The browser tests' headless Chromium and a CJK font for its pages: Debian's packages (Playwright cannot
# download its own browser here), installed by `make browser` when missing.
CHROMIUM := /usr/bin/chromium
CJK_FONT := /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc
PIP := $(PY) -m pip --disable-pip-version-check --quiet
CONTRACTS := libs/contracts/src/quanyi
# mypy (strict): the platform, the CLI and every service, domain and adapters alike.
MYPY_PATHS := libs/platform/src libs/cli/src $(wildcard services/*/src)

.PHONY: venv proto proto-check buf-lint browser lint test run bench bench-quick bench-inventory bench-replay bench-import bench-ledger bench-allocate clean distclean

## venv: create .venv (Python 3.11) and install the pinned dependencies plus quanyi (editable).
venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.lock pyproject.toml $(wildcard services/*/src libs/*/src)
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -r requirements.lock
	$(PIP) install --no-deps -e .
	@# Every libs/*/src and services/*/src on the path, so a package added later needs no reinstall.
	@ls -d $(CURDIR)/libs/*/src $(CURDIR)/services/*/src > $$($(PY) -c 'import sysconfig; print(sysconfig.get_path("purelib"))')/quanyi-src.pth
	@touch $@

## proto: regenerate libs/contracts/src/quanyi from proto/.
proto: $(VENV_STAMP)
	scripts/gen_proto.sh

## proto-check: fail when the committed generated code differs from what proto/ generates.
# gen_proto.sh resolves its output directory relative to the repository root, hence the relative path.
proto-check: $(VENV_STAMP)
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	scripts/gen_proto.sh "$$(realpath --relative-to=. "$$tmp")"; \
	if ! diff -r -x __pycache__ "$$tmp/quanyi" $(CONTRACTS) > "$$tmp/diff.txt"; then \
		cat "$$tmp/diff.txt" >&2; \
		echo "proto-check: $(CONTRACTS) is stale or hand-edited; run 'make proto' and commit the result" >&2; \
		exit 1; \
	fi; \
	echo "proto-check: generated code is up to date"

## buf-lint: lint proto/ with buf (pinned in package.json / package-lock.json).
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

buf-lint: $(NODE_STAMP)
	npx --no-install buf lint proto
	@echo "buf-lint: proto/ is clean"

## lint: ruff and mypy (strict, from pyproject.toml).
lint: $(VENV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(MYPY_PATHS)

## browser: install Debian's chromium and a CJK font for the browser tests, only when missing (as root, or via sudo).
browser: $(CHROMIUM) $(CJK_FONT)

$(CHROMIUM) $(CJK_FONT):
	@echo "installing Debian's chromium and fonts-wqy-zenhei for the browser tests"
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo -E ) apt-get install -y -qq chromium fonts-wqy-zenhei

## test: generated-code check, proto lint, ruff and mypy, then pytest (its summary is the last line; PYTEST_ARGS narrows it).
test: $(VENV_STAMP) $(CHROMIUM) $(CJK_FONT)
	@$(MAKE) --no-print-directory proto-check buf-lint lint
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

## run: the whole system locally (broker, Postgres, services, gateway on http://127.0.0.1:8000).
run: $(VENV_STAMP)
	$(VENV)/bin/quanyi dev

## bench: the whole system in one run (limits, gateway, event backbone, CPU and statements per order); ends with one JSON object.
# BENCH_ARGS adds flags (bench/README.md), e.g. BENCH_ARGS="--profile".
BENCH_ARGS ?=
bench: $(VENV_STAMP)
	$(PY) -m bench $(BENCH_ARGS)

## bench-quick: the same run with short phases, to prove it works end to end.
bench-quick: $(VENV_STAMP)
	$(PY) -m bench --quick $(BENCH_ARGS)

## bench-inventory: key import over gRPC and key claims for paid orders, on a fresh database (prints its figures).
bench-inventory: $(VENV_STAMP)
	$(PY) -m bench.inventory

## bench-replay: rebuild and verify the projections of a 1,000,000-event store (events/s; ends with one JSON object).
bench-replay: $(VENV_STAMP)
	$(PY) -m bench.replay

## bench-import: `quanyi keys import` of a 1,000,000-key file through the gateway into inventory (s, keys/s, peak RSS; one JSON object).
bench-import: $(VENV_STAMP)
	$(PY) -m bench.key_import

## bench-allocate: keys claimed per second for batches of paid orders, 8 concurrent consumers, a 1,000,000-key FEFO pool (one JSON object).
bench-allocate: $(VENV_STAMP)
	$(PY) -m bench.allocate $(BENCH_ARGS)

## bench-ledger: the ledger's postings/s from events (batched) and the time to verify a 1,000,000-entry chain (one JSON object).
bench-ledger: $(VENV_STAMP)
	$(PY) -m bench.ledger $(BENCH_ARGS)

## clean: caches and build output (keeps .venv and the .data of `make run`; see distclean).
clean:
	find . -path ./.venv -prune -o -path ./node_modules -prune -o -type d -name __pycache__ -print0 \
		| xargs -0 rm -rf
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist *.egg-info node_modules

## distclean: clean, plus the virtualenv and local data.
distclean: clean
	rm -rf $(VENV) .data
