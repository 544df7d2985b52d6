# Two commands from a fresh clone (Python >= 3.11 on PATH as python3):
#   make demo   set up .venv and run the default scenario into out/demo
#   make test   set up .venv, lint (ruff), type-check (mypy) and run the test suite
#   make docs   the documentation (Sphinx, warnings are errors) into docs/_build/html
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint docs benchmark benchmark-peers clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,docs]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fempde demo

lint: $(STAMP)
	$(BIN)/ruff check fempde meshes particles tests examples benchmarks
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-slow: lint
	$(BIN)/python -m pytest --runslow $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -b html docs docs/_build/html

benchmark: $(STAMP)
	$(BIN)/python benchmarks/work_precision.py
	$(BIN)/python benchmarks/scaling.py --domain disk
	$(BIN)/python benchmarks/scaling.py --domain ball
	$(BIN)/python benchmarks/amg.py
	$(BIN)/python benchmarks/interaction.py
	$(BIN)/python benchmarks/sgd.py

benchmark-peers: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[benchmark]"
	$(BIN)/python benchmarks/peers.py

clean:
	rm -rf $(VENV) out .pytest_cache .mypy_cache .ruff_cache *.egg-info docs/_build docs/generated
