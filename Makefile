# The whole set-up on a fresh machine is `make demo` (run the pipeline on embedded DuckDB)
# and `make test` (everything CI checks). Both install what they need into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DBT := $(BIN)/dbt
export DBT_PROFILES_DIR := $(CURDIR)

.PHONY: demo test lint install install-dev dbt-build clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

profiles.yml:
	cp profiles.example.yml profiles.yml

demo: install profiles.yml
	$(BIN)/usage-billing demo-events
	$(DBT) build --quiet
	$(BIN)/usage-billing invoices

lint: install-dev profiles.yml
	$(BIN)/ruff check sync tests bench
	$(BIN)/ruff format --check sync tests bench
	$(BIN)/mypy
	USAGE_BILLING_DUCKDB_PATH=target/lint.duckdb $(BIN)/sqlfluff lint models macros tests/dbt snapshots

test: install-dev profiles.yml lint
	$(BIN)/pytest

clean:
	rm -rf target logs usage_billing.duckdb
