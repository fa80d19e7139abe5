# One command for the tests on a fresh machine: `make test` (needs only python3 ≥ 3.11 with venv and pip).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.synced-$(shell cat uv.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install test lint typecheck check bench serve clean

install: $(STAMP)

$(STAMP): pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --inexact --all-extras --quiet
	rm -f $(VENV)/.synced-* && touch $@

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

serve: $(STAMP)
	$(BIN)/sluicegate serve $(ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/sdk_overhead.py

clean:
	rm -rf $(VENV)
