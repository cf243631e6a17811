# discourse-async: every task a maintainer or CI runs. `make install` makes .venv; the rest use it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SPEC ?=

.PHONY: install test spec generate check-generated lint typecheck ci clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

## the whole test suite (offline)
test: install
	$(BIN)/python -m pytest

## openapi.yaml from the pinned upstream document (or SPEC=<file or URL>)
spec: install
	$(BIN)/python -m codegen.build_spec $(SPEC)

## discourse_async/_generated from openapi.yaml
generate: install
	$(BIN)/python -m codegen.generate

## fail if openapi.yaml or _generated differ from a fresh build
check-generated: install
	$(BIN)/python -m codegen.check

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	$(BIN)/mypy

ci: test check-generated lint typecheck

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
