# The whole set-up on a fresh machine is `make demo` (run the pipeline on embedded DuckDB)
# and `make test` (everything CI checks). Both install what they need into .venv.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DBT := $(BIN)/dbt
export DBT_PROFILES_DIR := $(CURDIR)

.PHONY: demo deps test test-engines engines bigquery-emulator lint install install-dev clean \
	browser bench bench-small bench-spark

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

# Every warehouse adapter, fakesnow and sqlglot (the `engines` extra, about 1.4 GB with pyspark).
$(VENV)/.installed-engines: pyproject.toml $(VENV)/.installed-dev
	$(BIN)/pip install --quiet -e ".[engines]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# What the portability suite needs: the adapters, and Java and PostgreSQL from Debian's packages
# when missing. Idempotent. The suite starts PostgreSQL and fakesnow on 127.0.0.1 itself.
engines: $(VENV)/.installed-engines
	bash tests/engines/system-packages.sh

# Optional: the BigQuery emulator in its own virtualenv; once there, the portability suite builds
# on it too (docs/engines.md).
BQEMU_VENV := .venv-bqemu
$(BQEMU_VENV)/.installed: tests/engines/bigquery-emulator.txt
	$(PYTHON) -m venv $(BQEMU_VENV)
	$(BQEMU_VENV)/bin/pip install --quiet -r tests/engines/bigquery-emulator.txt
	touch $@

bigquery-emulator: $(BQEMU_VENV)/.installed

profiles.yml:
	cp profiles.example.yml profiles.yml

# The demo is integration_tests/, a dbt project that installs the package from this checkout
# as a user's does (packages.yml `local: ../`); `dbt deps` links it into dbt_packages/.
INTEGRATION := integration_tests
$(INTEGRATION)/dbt_packages/usage_billing: $(INTEGRATION)/packages.yml | $(VENV)/.installed
	$(DBT) deps --quiet --project-dir $(INTEGRATION)

deps: $(INTEGRATION)/dbt_packages/usage_billing

# demo-events replaces the raw events, so the demo builds in full: that also upgrades a
# usage_billing.duckdb built by an older version, whose tables may lack or have other columns.
demo: install profiles.yml deps
	$(BIN)/usage-billing demo-events
	$(DBT) build --quiet --full-refresh --project-dir $(INTEGRATION)
	$(BIN)/usage-billing invoices --project-dir $(INTEGRATION)

# Only folders that exist (git keeps no empty folder, so a fresh clone may lack bench/ or
# snapshots/); mypy also needs Python files in one. .sqlfluffignore says why macros/ is skipped.
PY_DIRS := $(wildcard usage_billing tests bench)
MYPY_DIRS := usage_billing $(if $(wildcard bench/*.py bench/*/*.py),bench)
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

# Headless Chromium and its driver for the page tests (tests/pages/) and `usage-billing pdf`: Debian's packages,
# installed when missing (sudo unless root); fonts-liberation so screenshots show real glyphs.
browser:
	@test -x /usr/bin/chromium -a -x /usr/bin/chromedriver || { \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends chromium chromium-driver fonts-liberation >/dev/null; }

# The DuckDB suites and the portability suite at once (docs/engines.md): the DuckDB suites run
# one dbt build at a time, leaving a core mostly idle that the portability suite's runners use.
# The portability suite's report is printed after the DuckDB suites'; either failing fails.
test: install-dev profiles.yml deps lint $(MOCKS)/node_modules/.installed browser engines
	mkdir -p target
	$(BIN)/pytest -m engines tests/engines >target/test-engines.log 2>&1 & engines=$$!; \
	$(BIN)/pytest -n 2 --dist loadfile; duckdb=$$?; \
	wait $$engines; portability=$$?; \
	echo "--- portability suite (tests/engines) ---"; cat target/test-engines.log; \
	[ $$duckdb -eq 0 ] && [ $$portability -eq 0 ]

test-engines: engines deps
	$(BIN)/pytest -m engines tests/engines

# The pipeline benchmark (docs/performance.md): N events, 10 M unless given (N=100000000).
N ?= 10000000
BENCH_RESULTS ?= bench/results.md
bench: install
	$(BIN)/python bench/pipeline.py --events $(N) --results $(BENCH_RESULTS)

# The same at 100,000 events: the test suite runs it to see that it still runs. The memory
# limit is low enough that DuckDB spills to its temp directory (it does below ~200 MB here).
bench-small: install
	$(BIN)/python bench/pipeline.py --events 100000 --memory-limit 150MB --results $(or $(BENCH_SMALL_RESULTS),target/bench-small.md)

# The pipeline benchmark on local Spark (docs/performance.md): SPARK_N events, 1 M unless given.
# Needs Java and pyspark, as the portability suite does.
SPARK_N ?= 1000000
bench-spark: engines
	$(BIN)/python bench/spark_pipeline.py --events $(SPARK_N) --results $(or $(SPARK_RESULTS),bench/spark-results.md)

clean:
	rm -rf target logs usage_billing.duckdb $(INTEGRATION)/target $(INTEGRATION)/dbt_packages
