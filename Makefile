# Two commands matter: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
WORKDIR ?= work
DEMO_LEDGER := $(WORKDIR)/demo-ledger

.PHONY: install demo test bench serve mlflow-ui lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install  ## generate, validate and summarize the sample ledger
	$(BIN)/o2c generate --customers 1500 --months 30 --seed 42 --shock-month 25 --out $(DEMO_LEDGER)
	$(BIN)/o2c validate $(DEMO_LEDGER)

test: install  ## the whole test suite
	$(BIN)/pytest

bench: install  ## every benchmark in benchmarks/, printing its figures
	@for script in benchmarks/bench_*.py; do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done

serve: install  ## the API over the demo's models (built in a later issue)
	@echo "o2c serve is not built yet (see the issue 'The served API')." >&2; exit 1

mlflow-ui: install  ## the MLflow UI over the project's tracking store
	mkdir -p $(WORKDIR)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(WORKDIR)/mlflow.db --port 5000

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(WORKDIR) .pytest_cache
