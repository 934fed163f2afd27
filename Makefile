# Two commands on a fresh machine: `make up` runs the suite, `make test` tests it.
# Each sets up its own virtual environment from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up demo test test-unit lint bench clean chromium ops-tools

# Quiet on stdout (its lines go to stderr): `make demo DEMO_ARGS=--json | jq` reads JSON only.
# axe-core (npm) for the console's accessibility scan, served to the test page locally.
AXE_VERSION := 4.14.1
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js

$(STAMP): pyproject.toml
	@echo "setting up $(VENV) from pyproject.toml" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/pip install --quiet --upgrade pip >&2
	@$(BIN)/pip install --quiet -e '.[local,dev]' >&2
	@touch $(STAMP)

up: $(STAMP)
	$(BIN)/python -m deploy.local

# The schedule page is tested in a real headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

# The AsyncAPI 3.0 JSON Schema that docs/contracts/asyncapi.json is validated against,
# from the pinned npm package that publishes it (npm from Debian when missing).
ASYNCAPI_SPECS := @asyncapi/specs@6.11.1
ASYNCAPI_SCHEMA := $(VENV)/asyncapi-3.0.0.json
$(ASYNCAPI_SCHEMA): | $(STAMP)
	@command -v npm >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }
	@mkdir -p $(VENV)/npm
	cd $(VENV)/npm && npm pack --silent $(ASYNCAPI_SPECS) >/dev/null
	tar -xzf $(VENV)/npm/asyncapi-specs-*.tgz -O 'package/schemas/3.0.0-without-$$id.json' > $@

# Operations files are checked with the operators' own tools (Debian's packages):
# promtool (prometheus) for the alert rules, docker-compose 1.29 for the compose file,
# curl and jq for the README's journey.
ops-tools:
	@for t in promtool docker-compose curl jq; do command -v $$t >/dev/null || missing=1; done; \
	[ -z "$$missing" ] || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq \
	    --no-install-recommends prometheus docker-compose curl jq >/dev/null; }

$(AXE): Makefile
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/axe axe-core@$(AXE_VERSION)
	touch $(AXE)

demo: $(STAMP)
	@$(BIN)/python -m demo $(DEMO_ARGS)

# ROADSHOW_REQUIRE_TOOLS: tests that need promtool or docker-compose fail, not skip.
test: $(STAMP) chromium ops-tools $(ASYNCAPI_SCHEMA) $(AXE)
	ROADSHOW_REQUIRE_TOOLS=1 $(BIN)/python -m pytest

# Pure tests only: no database, no broker, no browser (under 15 s).
test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy shared services deploy demo bench tests

clean:
	rm -rf $(VENV) .roadshow .pytest_cache .mypy_cache

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done
