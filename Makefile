# Every target builds .venv from the repo's own files when it is missing or stale.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUTPUT ?= out/demo
# The demo's Prefect state (ephemeral server's SQLite) lives in the repo, not in ~/.prefect,
# which another Prefect version may have migrated. Set PREFECT_HOME or PREFECT_API_URL to
# use your own.
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: demo test quick lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,sandbox]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/intercom-enrich demo --output $(OUTPUT)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

# The fast tests only (everything not marked slow); `make test`, which CI runs, runs them all.
quick: lint
	$(VENV)/bin/pytest -m "not slow"

bench: $(STAMP)
	$(PY) -m benchmarks.run

clean:
	rm -rf $(VENV) out
