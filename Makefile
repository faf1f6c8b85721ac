# SonoRisk: the README's two commands. Each builds .venv (Python 3.11) from requirements.lock when
# it is missing or the lock changed; nothing else needs installing by hand.
PYTHON ?= python3.11
VENV ?= .venv
LOCK_KEY := $(shell sha256sum requirements.lock pyproject.toml | sha256sum | cut -c1-16)
STAMP := $(VENV)/.sonorisk-$(LOCK_KEY)
BIN := $(VENV)/bin
export PATH := $(abspath $(BIN)):$(PATH)
export PYTHONHASHSEED := 0

.PHONY: demo test test-fast lint typecheck lock venv clean-outputs external-check audit fuzz

venv: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24" "setuptools>=77"
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.sonorisk-*
	@touch $@

## make demo: run the whole pipeline (dvc repro) on the embedded synthetic default, then show what it made
demo: $(STAMP)
	$(BIN)/dvc repro
	$(BIN)/python -m pipelines.show_outputs

# Tests run on TEST_WORKERS pytest-xdist workers; tests that share a heavy build carry one
# `xdist_group`, so each build is made by one worker (loadgroup). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

## make test: lint, type-check and run the test suite, printing the 15 slowest tests (exit code 5,
## no tests collected, fails too)
test: $(STAMP) lint typecheck
	$(PYTEST) --durations=15

## make test-fast: the inner loop: unit tests, doctests and the quick integration tests (not `slow`)
test-fast: $(STAMP)
	$(PYTEST) -m "not slow" -q

## make fuzz: the fuzz targets of the suite (decoders, IDs, contracts) with 20,000 examples each
## (FUZZ_EXAMPLES to change it; `make test` runs 2,000), with hypothesis's statistics
fuzz: $(STAMP)
	FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-20000} $(BIN)/python -m pytest -q -p no:xdist tests/integration/test_fuzz_inputs.py \
		--hypothesis-show-statistics

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

lock: $(STAMP)
	( head -2 requirements.lock; $(BIN)/python -m pip freeze --exclude-editable | grep -v '^sonorisk' ) > requirements.lock.new
	mv requirements.lock.new requirements.lock

clean-outputs:
	rm -rf data models reports

## make external-check: score the frozen models on a large external cohort drawn from centre B's
## distribution with another seed (after `make demo`); writes $(EXTERNAL_DIR)/report.html
EXTERNAL_N ?= 3000
EXTERNAL_SEED ?= 9001
EXTERNAL_DIR ?= build/external-large
# The README quotes these figures: computed under the audit profile, as the models were.
external-check: export SONORISK_PROFILE := audit
external-check: $(STAMP)
	@test -f models/fusion/fusion.json || { echo "run make demo first: no models/fusion"; exit 2; }
	mkdir -p $(EXTERNAL_DIR)
	$(BIN)/sonorisk synth --centres B=$(EXTERNAL_N) --seed $(EXTERNAL_SEED) --cohort-id synthetic-external-large \
		--no-reader2 --workers 2 --out $(EXTERNAL_DIR)/cohort.parquet
	$(BIN)/sonorisk validate $(EXTERNAL_DIR)/cohort.parquet --valid $(EXTERNAL_DIR)/validated.parquet \
		--quarantine $(EXTERNAL_DIR)/quarantine.parquet --summary $(EXTERNAL_DIR)/validation.json \
		--docs $(EXTERNAL_DIR)/data_docs
	$(BIN)/sonorisk radiomics $(EXTERNAL_DIR)/validated.parquet --out $(EXTERNAL_DIR)/radiomics.parquet
	$(BIN)/sonorisk dl-score $(EXTERNAL_DIR)/validated.parquet --out $(EXTERNAL_DIR)/dl.parquet
	$(BIN)/sonorisk external-scores $(EXTERNAL_DIR)/validated.parquet --features $(EXTERNAL_DIR)/radiomics.parquet \
		--dl-scores $(EXTERNAL_DIR)/dl.parquet --out $(EXTERNAL_DIR)/scores.parquet
	$(BIN)/sonorisk evaluate --scores $(EXTERNAL_DIR)/scores.parquet --validated $(EXTERNAL_DIR)/validated.parquet \
		--truth $(EXTERNAL_DIR)/cohort.truth.parquet --validation-summary $(EXTERNAL_DIR)/validation.json \
		--title "SonoRisk frozen models on a large external cohort (centre B, seed $(EXTERNAL_SEED))" \
		--out-dir $(EXTERNAL_DIR)/evaluation
	$(BIN)/sonorisk survival-evaluate --scores $(EXTERNAL_DIR)/scores.parquet --validated $(EXTERNAL_DIR)/validated.parquet \
		--truth $(EXTERNAL_DIR)/cohort.truth.parquet --out $(EXTERNAL_DIR)/survival.json

## make audit: reproduce everything from scratch and compare every output file's hash (README, "Audit")
audit: $(STAMP)
	$(BIN)/dvc repro
	@# Stage by stage against the committed lock (it first checks `dvc status` is clean); on another CPU
	@# vendor the DL stages differ (docs/reproducibility.md)
	$(BIN)/python -m sonorisk.audit lock || echo "audit: the committed dvc.lock is not reproduced here (above); checking this machine against itself"
	$(BIN)/python -m sonorisk.audit record build/audit-first-run
	rm -rf data models reports
	$(BIN)/dvc repro --force --no-run-cache  # recompute every stage: never restore outputs from DVC's cache
	$(BIN)/dvc status
	$(BIN)/python -m sonorisk.audit compare build/audit-first-run
