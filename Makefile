# Two set-up commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test lint unit venv deps bench clean

$(BIN)/nmops: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

venv: $(BIN)/nmops

deps:
	scripts/install-system-deps

## Run nmops's main job on the built-in lab (no routers needed).
demo: venv
	$(BIN)/nmops demo

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict nmops

## Install everything (Python packages, BIND 9, dnsperf) and run the whole test suite.
test: deps venv lint
	$(BIN)/pytest -q -rs

bench: deps venv
	$(BIN)/python bench/check_dns.py
	$(BIN)/python bench/router_facts.py
	$(BIN)/python bench/repair.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache *.egg-info
