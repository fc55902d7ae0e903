# Copyright 2026 gr-issc developers
# SPDX-License-Identifier: GPL-3.0-or-later
# gr-issc: `make demo` and `make test` set everything up first (scripts/setup.sh, idempotent).
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: setup lint test demo clean
setup:
	@bash scripts/setup.sh

test: setup lint
	$(PY) -m pytest -q tests

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: setup
	$(PY) examples/issc_link.py --scenario tradeoff --frames 12 --out results
	$(PY) examples/issc_link.py --scenario tracking --frames 16 --schedule 0:28 --out results/tracking

clean:
	rm -rf build .pytest_cache
