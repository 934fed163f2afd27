# Two commands on a fresh machine: `make up` runs the suite, `make test` tests it.
# Each sets up its own virtual environment from pyproject.toml.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: up demo test test-unit lint bench clean chromium

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

demo: $(STAMP)
	$(BIN)/python -m demo $(DEMO_ARGS)

test: $(STAMP) chromium $(ASYNCAPI_SCHEMA)
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
