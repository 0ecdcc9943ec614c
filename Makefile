# The README's two commands. Both create .venv when it is missing, install into it, then run.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# The flight-delay example end to end (data, S3, XGBoost training, endpoint, batch transform,
# evaluation) on the embedded store; it prints where its plots and artifacts are.
demo: $(VENV)/.installed
	$(BIN)/python examples/flight_delay/flight_delay.py

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check simsage tests benchmarks examples
	$(BIN)/ruff format --check simsage tests benchmarks examples

bench: $(VENV)/.installed-test
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/bench_s3.py
	$(BIN)/python benchmarks/bench_training.py
	$(BIN)/python benchmarks/bench_endpoints.py

clean:
	rm -rf $(VENV)
