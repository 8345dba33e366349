# make run   installs into .venv and starts the service in demo mode on embedded SQLite
# make test  installs and runs every test
# make check ruff format --check, ruff check, mypy --strict, then the tests

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test check lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=25.1"
	$(BIN)/python -m pip install -q -e ".[server,requests,redis,resource]" --group dev
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/tokensmith serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/ruff check src tests bench examples
	$(BIN)/mypy

check: lint test

format: $(STAMP)
	$(BIN)/ruff format src tests bench examples
	$(BIN)/ruff check --fix src tests bench examples

bench: $(STAMP)
	$(BIN)/python bench/token_load.py
	$(BIN)/python bench/peer_load.py
	$(BIN)/python -W ignore bench/client_overhead.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/multipart.py
	$(BIN)/python bench/auth_flood.py
	$(BIN)/python bench/keepalive_latency.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
