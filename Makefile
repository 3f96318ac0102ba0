# The two commands: `make demo` and `make test`. Both set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.9
SCALE ?= 1000000
ENGINE ?= duckdb

export DAGSTER_HOME := $(CURDIR)/.dagster_home
export JOURNEYS_LANDING_DIR ?= $(CURDIR)/fixtures/landing
export JOURNEYS_WAREHOUSE ?= $(CURDIR)/warehouse/journeys.duckdb

.PHONY: install demo test lint bench dev lock clean

install: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml

$(VENV)/.installed: requirements.lock pyproject.toml
	@echo "Setting up $(VENV) (Python: $$($(PYTHON) --version))"
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Journeys needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	@touch $@

$(DAGSTER_HOME)/dagster.yaml: dagster.yaml
	@mkdir -p $(DAGSTER_HOME)
	cp dagster.yaml $@

demo: install
	$(BIN)/journeys run
	$(BIN)/journeys report --out warehouse/report


test: install
	$(BIN)/python -m pytest -n 2 -p no:cacheprovider

lint: install
	$(BIN)/ruff check pipelines transforms tests bench

bench: install
	$(BIN)/python -m bench.run --scale $(SCALE) $(if $(MEMORY_LIMIT),--memory-limit $(MEMORY_LIMIT)) \
		$(if $(filter 1,$(GZIP)),--gzip) $(if $(filter 0,$(GZIP)),--no-gzip) \
		$(if $(filter 0,$(NIGHTLY)),--no-nightly) $(if $(NIGHTS),--nights $(NIGHTS)) --engine $(ENGINE) $(if $(SPARK_MASTER),--spark-master '$(SPARK_MASTER)')

dev: install
	$(BIN)/dagster dev

# Re-pin every dependency after editing pyproject.toml.
lock: install
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra spark --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .dagster_home warehouse .pytest_cache
