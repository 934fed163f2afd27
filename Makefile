# Two commands on a fresh machine: `make up` runs the suite, `make test` tests it.
# Each sets up its own virtual environment from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up demo test test-unit lint bench clean chromium

# axe-core (npm) for the console's accessibility scan, served to the test page locally.
AXE_VERSION := 4.14.1
AXE := $(VENV)/axe/node_modules/axe-core/axe.min.js

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[local,dev]'
	touch $(STAMP)

up: $(STAMP)
	$(BIN)/python -m deploy.local

# The schedule page is tested in a real headless Chromium (Debian's package).
chromium:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

$(AXE): Makefile
	npm install --silent --no-save --no-audit --no-fund --prefix $(VENV)/axe axe-core@$(AXE_VERSION)
	touch $(AXE)

demo: $(STAMP)
	$(BIN)/python -m demo $(DEMO_ARGS)

test: $(STAMP) chromium $(AXE)
	$(BIN)/python -m pytest

# Pure tests only: no database, no broker, no browser (under 15 s).
test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

lint: $(STAMP)
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/mypy shared services deploy demo bench tests

clean:
	rm -rf $(VENV) .roadshow .pytest_cache .mypy_cache

bench: $(STAMP)
	@for f in bench/*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done
