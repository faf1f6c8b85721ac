# SonoRisk: the README's two commands. Each builds .venv (Python 3.11) from requirements.lock when
# it is missing or the lock changed; nothing else needs installing by hand.
PYTHON ?= python3.11
VENV ?= .venv
LOCK_KEY := $(shell sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.sonorisk-$(LOCK_KEY)
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0

.PHONY: demo test lint typecheck lock venv clean-outputs

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.sonorisk-*
	@touch $@

## make demo: run the whole pipeline (dvc repro) on the embedded synthetic default, then show what it made
demo: $(STAMP)
	$(BIN)/dvc repro
	$(BIN)/python -m pipelines.show_outputs

## make test: lint, type-check and run the test suite (exit code 5, no tests collected, fails too)
test: $(STAMP) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

lock: $(STAMP)
	( head -2 requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^sonorisk' ) > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean-outputs:
	rm -rf data models reports
