# Kaphila Console. The two commands a new user needs:
#   make run    set up and start the console (sandbox profile by default)
#   make test   set up everything and run lint, types, import contracts and all tests
# and: make demo-team (a busy call center on this machine: sandbox, gateway,
# simulated operator desks, a supervisor), make bench (benchmarks, printed as a
# table), make package (PyInstaller builds in dist/, self-checked), make clean.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint bench demo-team package sysdeps-run sysdeps-test clean

run: sysdeps-run $(VENV)/.installed-run
	$(BIN)/python -m console $(ARGS)

# The suite runs on up to 4 worker processes (pytest-xdist): most tests wait on
# timers, sockets and subprocesses, so two workers halve its time on 2 CPUs.
# Every test picks its own ports and folders. PYTEST_ARGS="-n 0" runs it in one.
test: sysdeps-test $(VENV)/.installed-test lint
	$(BIN)/python -m pytest -n auto --maxprocesses 4 $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: sysdeps-test $(VENV)/.installed-test
	$(BIN)/python -m tests.bench $(ARGS)

demo-team: sysdeps-run $(VENV)/.installed-run
	$(BIN)/python -m console.demo_team $(ARGS)

package: sysdeps-test $(VENV)/.installed-test
	$(BIN)/python packaging/build.py $(ARGS)

sysdeps-run:
	@PYTHON=$(PYTHON) bash packaging/sysdeps.sh run

sysdeps-test:
	@PYTHON=$(PYTHON) bash packaging/sysdeps.sh test

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The test extras include everything the run needs, so either stamp will do
# for `run`; pyproject.toml changing re-installs.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache .hypothesis \
	       .import_linter_cache *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
