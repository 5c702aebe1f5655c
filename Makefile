# Inventory Twin: `make test` (what CI runs) and `make demo`. See README.md.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup test lint demo kafka-up kafka-down

setup: $(STAMP) kafka-jars

# (Re)install the project when pyproject.toml changes.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
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

demo: setup
	$(BIN)/invtwin kafka up
	$(BIN)/invtwin kafka topics
	@echo
	@echo "The local Kafka broker and the contract topics are up (stop: make kafka-down)."
	@echo "The dataflows, simulator, API and dashboard are not wired into the demo yet."

kafka-up: setup
	$(BIN)/invtwin kafka up

kafka-down: $(STAMP)
	$(BIN)/invtwin kafka down
