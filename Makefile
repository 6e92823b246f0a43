# Vigil — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# What running Vigil needs, and no more.
$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The same with the tools of lint, tests and benchmarks.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(RUN_STAMP)

.PHONY: install
install: $(DEV_STAMP) ## Create .venv and install Vigil with its dev tools

.PHONY: install-run
install-run: $(RUN_STAMP) ## Create .venv and install only what running Vigil needs

.PHONY: run
run: install-run ## Migrate and start Vigil on SQLite at http://127.0.0.1:8000
	$(BIN)/vigil serve

.PHONY: lint
lint: install ## ruff (lint and format check) and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

.PHONY: format
format: install ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

.PHONY: test
test: install lint ## Every test: unit, SQLite, PostgreSQL (a throwaway cluster)
	$(BIN)/pytest $(PYTEST_ARGS)

.PHONY: bench
bench: install ## Benchmarks on SQLite and PostgreSQL; figures go to BENCHMARKS.md
	$(BIN)/python -m bench $(BENCH_ARGS)

.PHONY: clean
clean: ## Remove the virtualenv, caches and local data
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache test-artifacts
