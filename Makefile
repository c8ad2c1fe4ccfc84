# StressLab: `make run` and `make test` do all set-up themselves on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test setup chromium redis bench screenshots clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Debian's chromium for the browser tests (never `playwright install`).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

# Debian's redis-server for the Redis cache tests (a fixture starts its own on a free port).
# Its own apt-get update: the chromium target runs one only when chromium is missing.
redis:
	@if ! command -v redis-server >/dev/null 2>&1; then \
		echo "Installing Debian's redis-server for the Redis cache tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq redis-server >/dev/null; \
	fi

# Installs on first use, then serves the app; a new store is seeded with the Lending Club pool.
run: $(STAMP) chromium
	@mkdir -p .stresslab
	@echo "StressLab at http://127.0.0.1:8501 (store: $${STRESSLAB_DB:-.stresslab/stresslab.duckdb})"
	$(BIN)/streamlit run dashboard/app.py --server.address 127.0.0.1 --server.port 8501

test: $(STAMP) chromium redis
	$(BIN)/python -m pytest -n 2 --dist loadgroup

# Refresh the README's screenshots: every page at 1440 and 390 px wide, as <page>_<width>.png,
# from the every-page browser check (it saves each picture before judging the page, so a failing
# check still refreshes it, and make says which check failed).
screenshots: $(STAMP) chromium
	STRESSLAB_SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest tests/e2e/test_pages_e2e.py -q -p no:cacheprovider

bench: $(STAMP) chromium
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .stresslab
