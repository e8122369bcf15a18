# The whole set-up on a fresh machine is `make demo` (run the pipeline on embedded DuckDB)
# and `make test` (everything CI checks). Both install what they need into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DBT := $(BIN)/dbt
export DBT_PROFILES_DIR := $(CURDIR)

.PHONY: demo test lint install install-dev dbt-build clean browser

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

# Only folders that exist (git keeps no empty folder, so a fresh clone may lack bench/ or
# snapshots/); mypy also needs Python files in one. .sqlfluffignore says why macros/ is skipped.
PY_DIRS := $(wildcard sync tests bench)
MYPY_DIRS := sync $(if $(wildcard bench/*.py bench/*/*.py),bench)
SQL_DIRS := $(wildcard models tests/dbt snapshots)

lint: install-dev profiles.yml
	$(BIN)/ruff check $(PY_DIRS)
	$(BIN)/ruff format --check $(PY_DIRS)
	$(BIN)/mypy $(MYPY_DIRS)
	mkdir -p target
	USAGE_BILLING_DUCKDB_PATH=target/lint.duckdb $(BIN)/sqlfluff lint $(SQL_DIRS)

# The spec-enforcing mock server of the contract tests (@stdy/cli, pinned by the lock file).
MOCKS := tests/mock_servers
$(MOCKS)/node_modules/.installed: $(MOCKS)/package.json $(MOCKS)/package-lock.json
	npm ci --prefix $(MOCKS) --no-audit --no-fund --loglevel=error
	touch $@

# Headless Chromium and its driver for the page tests (tests/test_pages.py): Debian's packages,
# installed when missing (sudo unless root); fonts-liberation so screenshots show real glyphs.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver fonts-liberation >/dev/null; }

test: install-dev profiles.yml lint $(MOCKS)/node_modules/.installed browser
	$(BIN)/pytest

clean:
	rm -rf target logs usage_billing.duckdb
