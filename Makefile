# Two commands matter: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WORKDIR ?= work
DEMO_LEDGER := $(WORKDIR)/demo-ledger
DEMO_AS_OF := 2026-06-01
DEMO_VALID_FROM := 2025-12-01
IBM_SAMPLE := ../shared/data/ibm_ar_sample.csv

.PHONY: install postgresql lock demo test test-quick bench serve mlflow-ui lint clean chromium

PIP := $(BIN)/python -m pip --quiet --disable-pip-version-check

# Installs exactly the versions in requirements-dev.lock (hashes checked), then the project itself.
$(STAMP): pyproject.toml requirements-dev.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install --require-hashes -r requirements-dev.lock
	$(PIP) install --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

# After changing dependencies in pyproject.toml: resolve again and write both lock files
# (requirements.lock for the service and its Bento, requirements-dev.lock for make).
lock: install
	$(PIP) install "uv>=0.9,<1"
	$(BIN)/uv pip compile pyproject.toml --python-version 3.11 --generate-hashes --quiet \
		-o requirements.lock
	$(BIN)/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet \
		-c requirements.lock -o requirements-dev.lock

demo: install  ## the whole job on the built-in sample ledger
	$(BIN)/o2c generate --customers 1500 --months 30 --seed 42 --shock-month 25 --out $(DEMO_LEDGER)
	$(BIN)/o2c validate $(DEMO_LEDGER)
	$(BIN)/o2c features build --ledger $(DEMO_LEDGER) --per-invoice --out $(WORKDIR)/demo-invoice-features.parquet
	$(BIN)/o2c features build --ledger $(DEMO_LEDGER) --as-of $(DEMO_AS_OF) --out $(WORKDIR)/demo-snapshot.parquet
	$(BIN)/o2c train --ledger $(DEMO_LEDGER) --valid-from $(DEMO_VALID_FROM)
	$(BIN)/o2c models list  # each version: aliases, validation metrics, ledger, the gate's decision
	$(BIN)/o2c score --ledger $(DEMO_LEDGER) --as-of $(DEMO_AS_OF)
	$(BIN)/o2c worklist --ledger $(DEMO_LEDGER) --as-of $(DEMO_AS_OF) --top 15
	$(BIN)/o2c limits --ledger $(DEMO_LEDGER) --as-of $(DEMO_AS_OF)
	@echo "== a credit manager works the review queue: an override with a reason, audited, exported for the ERP"
	@$(BIN)/o2c users add demo-credit --role credit_manager >/dev/null 2>&1 || true  # its key is not needed here
	$(BIN)/o2c limits queue --top 5
	@C=$$($(BIN)/o2c limits queue --top 1 --include-decided --json | tail -1 \
		| $(BIN)/python -c "import json, sys; print(json.load(sys.stdin)['queue'][0]['customer_id'])") && \
	  $(BIN)/o2c limits decide $$C --override 20000 --reason "demo: bank guarantee" --user demo-credit && \
	  $(BIN)/o2c limits export --out $(WORKDIR)/demo-limits-erp.csv && \
	  $(BIN)/o2c customer $$C --ledger $(DEMO_LEDGER)
	$(BIN)/o2c kpis --ledger $(DEMO_LEDGER) --as-of $(DEMO_AS_OF) --by segment --plot $(WORKDIR)/demo-kpis-trend.png
	$(BIN)/o2c forecast --ledger $(DEMO_LEDGER) --as-of $(DEMO_AS_OF) --out $(WORKDIR)/demo-forecast.png
	$(BIN)/o2c monitor --ledger $(DEMO_LEDGER) --reference-from 2025-06-01 --reference-to 2025-11-30 --current-from 2026-01-01 --current-to 2026-06-30 --out $(WORKDIR)/demo-monitoring \
		|| test $$? -eq 4  # exit 4: the verdict is alert, as this demo means to show
	$(BIN)/python -m o2c.api_tour
	$(BIN)/python -m o2c.workflow_tour  # a collector's promise holds the customer at once
	$(BIN)/o2c kpis --ledger $(DEMO_LEDGER) --as-of $(DEMO_AS_OF) --by collector  # each owner's book
	@if [ -f $(IBM_SAMPLE) ]; then \
		echo "== a real export: the IBM accounts-receivable sample, imported by examples/ibm/mapping.toml"; \
		$(BIN)/o2c import --mapping examples/ibm/mapping.toml --out $(WORKDIR)/ibm-ledger && \
		$(BIN)/o2c validate $(WORKDIR)/ibm-ledger && \
		O2C_WORKDIR=$(WORKDIR)/ibm-work $(BIN)/o2c train --ledger $(WORKDIR)/ibm-ledger --valid-from 2013-07-01; \
	else echo "skipped the IBM import: $(IBM_SAMPLE) is not there (shared/ beside the checkout)"; fi
	$(BIN)/o2c demo-users  # the web app's address and a user per role, passwords shown once

# Both commands spread the test files over every core (pytest-xdist; a file's tests stay in one
# worker, so module fixtures are built once) and print the slowest tests.
PYTEST := $(BIN)/pytest --numprocesses auto --dist loadfile --durations 25

test: install postgresql chromium  ## the whole test suite
	$(PYTEST)

# The workflow tests start a real PostgreSQL server (tests/pg.py): Debian's package, when missing.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
postgresql:
	@command -v pg_ctl >/dev/null || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y postgresql)

# The web app's browser tests drive Debian's Chromium (never a downloaded browser): when missing.
chromium:
	@command -v chromium >/dev/null || ($(SUDO) apt-get update && $(SUDO) apt-get install -y chromium)

test-quick: install postgresql  ## the quick lane: every test not marked slow
	$(PYTEST) -m "not slow"

bench: install  ## every benchmark in benchmarks/, printing its figures
	@for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

serve: install  ## the API and the web app (/app/) over the demo's models, snapshot and ledger
	O2C_LEDGER=$(DEMO_LEDGER) $(BIN)/o2c serve

mlflow-ui: install  ## the MLflow UI over the project's tracking store
	mkdir -p $(WORKDIR)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(WORKDIR)/mlflow.db --port 5000

lint: install  ## ruff, and the stage-order contract ([tool.importlinter] in pyproject.toml)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

clean:
	rm -rf $(WORKDIR) .pytest_cache
