# make run   installs into .venv and starts the service in demo mode on embedded SQLite
#            (make run PORT=9000 HOST=0.0.0.0 to listen elsewhere than 127.0.0.1:8080)
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

# PORT and HOST count only when given on make's command line: HOST is often in the environment
# already (tcsh exports the machine's name as HOST).
given = $(filter command line,$(origin $(1)))
run_options = $(if $(call given,HOST), --host $(HOST))$(if $(call given,PORT), --port $(PORT))

run: $(STAMP)
	$(BIN)/tokensmith serve --demo$(run_options)

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
	$(BIN)/python bench/half_load.py
	$(BIN)/python bench/refresh_load.py
	$(BIN)/python bench/realms.py
	$(BIN)/python -W ignore bench/client_overhead.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/verify.py
	$(BIN)/python bench/routing.py
	$(BIN)/python bench/multipart.py
	$(BIN)/python bench/auth_flood.py
	$(BIN)/python bench/failure_flood.py
	$(BIN)/python bench/keepalive_latency.py
	$(BIN)/python bench/propagation.py
	$(BIN)/python bench/health_scan.py
	$(BIN)/python bench/dpop_cost.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
