# Inventory Twin: `make test` (what CI runs) and `make demo`. See README.md.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test lint demo chaos kafka-up kafka-down

setup: $(STAMP) kafka-jars

# The core modules mypyc compiles at install time (the list in setup.py)
COMPILED := $(shell sed -n 's/^COMPILED = \[\(.*\)\]/\1/p' setup.py | tr -d '",')

# (Re)install the project when pyproject.toml, the pinned versions or a compiled module
# change (twin/__init__.py refuses a compiled module older than its source).
$(STAMP): pyproject.toml constraints.txt setup.py $(COMPILED)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $(STAMP)

.PHONY: kafka-jars
kafka-jars: $(STAMP)
	$(BIN)/invtwin kafka jars

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy

# The test fixtures reuse a reachable broker or start the local one, and stop the one they
# started when the session ends.
test: setup lint
	$(BIN)/pytest
	TWIN_PURE=1 $(BIN)/pytest tests/twin  # the core once more as the Python it compiles from

# The whole system on the local broker: topics, both dataflows, the API with its dashboard,
# and the simulator feeding a live scenario. Ctrl-C stops everything it started.
SCENARIO ?= baseline
demo: setup
	$(BIN)/invtwin demo --scenario $(SCENARIO)

# The chaos soak: live load on a three-node cluster of its own while a random broker, flow
# or API process is crashed or frozen every 30 s, then every SKU-site compared with the
# simulator's ground truth. CI runs it for three minutes after the tests.
MINUTES ?= 3
chaos: setup
	$(BIN)/invtwin chaos --minutes $(MINUTES)

kafka-up: setup
	$(BIN)/invtwin kafka up

kafka-down: $(STAMP)
	$(BIN)/invtwin kafka down
