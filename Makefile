# Both entry points set up their own virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export KERAS_BACKEND := tensorflow
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: demo test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[eval,test,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python recipes/translate.py --output-dir runs/translate-dates

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/python -m pytest -q -n 2  # the two cores: pytest-xdist

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
