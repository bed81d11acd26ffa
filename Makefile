# What CI runs: .ci/run installs the system packages, then `make test`.
# Quick start: `make run` (the main job against the embedded reference server) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# mypy takes its settings from pyproject.toml; the folders are listed here so that one without
# Python files yet (in a fresh clone, say) is skipped instead of failing the check.
MYPY_PATHS = $(sort $(patsubst %/,%,$(dir $(wildcard \
	mmload/*.py tests/*.py bench/*.py locustfiles/*.py scripts/*.py))))

.PHONY: run test quick lint bench clean distclean

$(VENV)/.installed: pyproject.toml scripts/make_venv.sh
	sh scripts/make_venv.sh $(VENV) $(PYTHON)
	touch $@

# the main job: hammer the embedded reference server for 30 s and leave a run folder in results/
# (RUN_ARGS: more options for mmload run, e.g. make run RUN_ARGS="-t 10s")
run: $(VENV)/.installed
	$(BIN)/mmload run $(RUN_ARGS)

test: $(VENV)/.installed
	$(BIN)/python -m pytest -q --durations=25 $(PYTEST_ARGS)
	@$(MAKE) --no-print-directory lint

# the quick loop: everything but the live runs (tests/live/: Locust, nginx, a browser end to end)
quick: $(VENV)/.installed
	$(BIN)/python -m pytest -q -m "not live" --durations=10 $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_PATHS)
	$(BIN)/lint-imports

# needs wrk and nginx: apt-get install nginx-light wrk
bench: $(VENV)/.installed
	$(BIN)/python bench/server.py

clean:
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
