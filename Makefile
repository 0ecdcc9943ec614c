# The README's two commands. Both create .venv when it is missing, install into it, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The official SDK v3 cannot share a venv with v2 (the main suite's): its flows
# (tests/sdk_v3) run in a venv of their own.
VENV3 := .venv-sdk3
BIN3 := $(VENV3)/bin

.PHONY: demo test test-main test-sdk3 lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

$(BIN3)/python:
	$(PYTHON) -m venv $(VENV3)
	$(BIN3)/python -m pip install --quiet --upgrade pip

$(VENV3)/.installed: pyproject.toml | $(BIN3)/python
	$(BIN3)/python -m pip install --quiet -e '.[official-sdk-v3]'
	touch $@

# The flight-delay example end to end (data, S3, a preprocessing job, XGBoost training,
# endpoint, batch transform, evaluation) on the embedded store; it prints where its plots
# and artifacts are.
demo: $(VENV)/.installed
	$(BIN)/python examples/flight_delay/flight_delay.py

# The main suite, then the SDK v3 flows in their own venv (built only then); both run
# even when the first fails, and the target fails if either did.
test: $(VENV)/.installed-test
	@status=0; \
	$(BIN)/python -m pytest -q || status=1; \
	$(MAKE) --no-print-directory test-sdk3 || status=1; \
	exit $$status

test-main: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

# The official SDK v3's flows (ModelTrainer, sagemaker-core resources, ModelBuilder).
test-sdk3: $(VENV3)/.installed
	$(BIN3)/python -m pytest -q tests/sdk_v3

lint: $(VENV)/.installed-test
	$(BIN)/ruff check simsage tests benchmarks examples
	$(BIN)/ruff format --check simsage tests benchmarks examples

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_s3.py
	$(BIN)/python benchmarks/bench_s3_http.py
	$(BIN)/python benchmarks/bench_container_relay.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_processing.py
	$(BIN)/python benchmarks/bench_tuning.py
	$(BIN)/python benchmarks/bench_tuning_search.py
	$(BIN)/python benchmarks/bench_recordio.py
	$(BIN)/python benchmarks/bench_endpoints.py
	$(BIN)/python benchmarks/bench_serving_http.py
	$(BIN)/python benchmarks/bench_algorithms.py
	$(BIN)/python benchmarks/bench_rcf_transform.py
	$(BIN)/python benchmarks/bench_pipelines.py

clean:
	rm -rf $(VENV) $(VENV3)
