# Two commands do all the set-up: `make test` and (from the models issue on) `make demo`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: venv install dev test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is installed first when absent, so nothing pulls a large CUDA build by accident.
venv: $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet torch==2.13.0

install: venv
	$(PIP) install --quiet -e .

dev: venv
	$(PIP) install --quiet -e ".[dev]"

test: dev
	$(PY) -m pytest -q

lint: dev
	$(VENV)/bin/ruff check src tests benchmarks

bench: install
	$(PY) benchmarks/exec_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info
