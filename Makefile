# customer-analytics: `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SPARK_STAMP := $(VENV)/.installed-spark
DEMO_DIR ?= demo_data
DEMO_DAYS ?= 30
DEMO_SCALE ?= 1
PYTEST_ARGS ?=
export DEMO_DIR

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) profiles.yml ## Create .venv and install the project (only when needed)

$(SPARK_STAMP): $(STAMP)
	$(BIN)/python -m pip install -q -e '.[dev,spark]'
	touch $(SPARK_STAMP)

install-spark: $(SPARK_STAMP) profiles.yml ## Add the Spark extra (pyspark, dbt-spark; Java 17) to .venv

profiles.yml: profiles.example.yml
	cp profiles.example.yml profiles.yml

demo-data: install ## Generate the demo shop's history if absent (DEMO_DAYS, DEMO_SCALE)
	@test -f $(DEMO_DIR)/state.json || $(BIN)/python -m demo generate --days $(DEMO_DAYS) --scale $(DEMO_SCALE)

run: install $(if $(filter spark,$(WAREHOUSE)),install-spark) demo-data demo-api ## Main job (WAREHOUSE=duckdb|postgres|spark): demo data -> ingestion -> dbt build -> summary
	$(BIN)/python -m orchestration run

demo-api: install demo-data ## Serve the demo's CRM + FX API in the background (until `make stop`)
	$(BIN)/python -m demo serve --background

stop: ## Stop the demo API started by `make run`
	@test -x $(BIN)/python && $(BIN)/python -m demo stop || true

advance: install ## Simulate one more day in the demo shop
	$(BIN)/python -m demo advance

ingest: install ## Load every enabled source into the raw schemas (python -m ingestion)
	$(BIN)/python -m ingestion

status: install ## Last runs, freshness per source, failing tests, rejected and quarantined rows
	$(BIN)/python -m orchestration status

report: install ## Write reports/health.html from the run ledger
	$(BIN)/python -m orchestration report --out reports/health.html

warehouse-roles: install ## As a PostgreSQL admin (PG*): create/update the loader, transformer and reader roles (passwords: LOADER_PGPASSWORD, DBT_PGPASSWORD, READER_PGPASSWORD); READER_REGIONS=EU,... adds regional readers (READER_EU_PGPASSWORD)
	$(BIN)/python -m orchestration warehouse-roles

airflow-check: ## Load the Airflow DAG in a cached Airflow venv (.cache/airflow-venv)
	orchestration/airflow/check_dag.sh

prefect-flow: install demo-data demo-api ## Run the Prefect flow once (a temporary local Prefect server unless PREFECT_API_URL is set)
	PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS=$${PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS:-120} \
	  $(BIN)/python orchestration/prefect/flow.py

system-deps: ## Install PostgreSQL server, Chromium and a Java runtime (Spark) OS packages if missing
	./scripts/ensure-system-deps.sh

test: install install-spark system-deps lint ## Whole test suite: lint, Python tests (incl. the fast slices of the fault battery and of Spark), dbt build on DuckDB and PostgreSQL
	$(BIN)/python -m pytest -n 2 --dist loadgroup --durations=20 $(PYTEST_ARGS)

test-spark: install-spark system-deps ## Spark in full on a local two-worker cluster: every dbt test, a day, a backfill, a full refresh
	SPARK_FULL=1 $(BIN)/python -m pytest -m spark -n 0 -s --durations=10 $(PYTEST_ARGS)

faults: install system-deps ## Full reliability and security battery -> reports/faults/faults.{json,md}
	rm -rf reports/faults
	FAULTS_FULL=1 FAULTS_REPORT_DIR=$(CURDIR)/reports/faults $(BIN)/python -m pytest -m faults -n 2 --dist loadgroup \
	  --durations=20 $(PYTEST_ARGS)

lint: install ## ruff (lint + format check), sqlfluff, mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/sqlfluff lint dbt_project --processes 2
	$(BIN)/mypy

format: install ## Apply ruff format and sqlfluff fixes
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	$(BIN)/sqlfluff fix dbt_project --processes 2

docs: install ## Build the dbt docs site (target/index.html and target/static_index.html)
	$(BIN)/dbt docs generate --static

bench: install system-deps ## Benchmark a 10M-event day (BENCH_ARGS="--scale 100" for a quick run)
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

bench-watch: install system-deps ## Watch mode latency at 100k events/min on DuckDB and PostgreSQL, and an idle cycle's cost (BENCH_ARGS="--minutes 1")
	$(BIN)/python -m benchmarks watch --warehouses duckdb,postgres $(BENCH_ARGS)

clean: stop ## Remove local warehouse, demo data and dbt artefacts (keeps .venv)
	rm -rf warehouse $(DEMO_DIR) target logs reports

.PHONY: help install install-spark test-spark demo-data demo-api stop run advance ingest status report warehouse-roles airflow-check prefect-flow system-deps test faults \
	lint format docs bench bench-watch clean
