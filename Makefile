# The two commands a fresh machine needs: `make run` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: run test deps venv lint typecheck bench install

run: venv
	$(VENV)/bin/shop-watchdog run

test: deps venv lint typecheck
	$(PY) -m pytest $(PYTEST_ARGS)

# ruff (lint, then formatting) and the layer contracts of pyproject.toml's [tool.importlinter].
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# Debian packages the test suite starts as real servers (installed only when missing).
deps:
	./scripts/install-test-deps

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[all,test]'
	touch $@

typecheck: venv
	$(PY) -m mypy

bench: deps venv
	$(PY) bench/run_all.py

install:
	./scripts/install
