# Two commands matter: `make run` (the whole product on this machine) and `make test` (every
# check CI runs). Everything else is a step of those two. Needs only Python 3.11 on PATH.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
# Touched after a successful install: `make install` does nothing until requirements.lock changes.
STAMP := $(VENV)/.installed-from-lock

.DEFAULT_GOAL := help
.PHONY: help install lock run test lint typecheck migrations-check pytest chromium clean messages translations-check

help:
	@echo "make run               install, migrate, create the demo data, start web + worker + beat + simulator"
	@echo "make test              install, then ruff (lint, format), import contracts, mypy, migrations check, pytest"
	@echo "make install           create $(VENV) and install requirements.lock (hash-checked)"
	@echo "make lock              re-resolve requirements.lock from pyproject.toml (needs uv)"
	@echo "make lint | typecheck | migrations-check | pytest   one step of make test"
	@echo "make clean             remove caches and collected static files (keeps .venv and var/)"

install: $(STAMP)

$(STAMP): requirements.lock
	@test -n "$(PYTHON)" || { echo "Python 3.11 not found: put python3.11 (or python3) on PATH" >&2; exit 1; }
	@"$(PYTHON)" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
		|| { echo "$(PYTHON) is not Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }
	test -x $(PY) || "$(PYTHON)" -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	touch $@

lock:
	@command -v uv >/dev/null || { echo "uv is needed: $(PY) -m pip install uv" >&2; exit 1; }
	uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock

# The French catalogue compiled (locale/*/LC_MESSAGES/django.mo, not in git): GNU gettext's msgfmt.
messages: install
	@command -v msgfmt >/dev/null || { echo "msgfmt is missing: apt-get install gettext" >&2; exit 1; }
	$(PY) manage.py compilemessages --ignore=.venv -v 0

# Every string marked, every catalogue entry translated and not fuzzy (scripts/check_translations.py).
translations-check: messages
	$(PY) scripts/check_translations.py

run: install messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo
	$(PY) scripts/run.py

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(BIN)/mypy .

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

# CI machines are fresh: install Debian's chromium for the browser tests there. Locally it is
# the developer's choice (browser tests skip without it, and fail without it when CI=true).
chromium:
	bash scripts/ensure_chromium.sh

pytest: install messages
	$(BIN)/pytest

test: install messages
	@case "$${CI:-}" in [Tt][Rr][Uu][Ee]|1|[Yy][Ee][Ss]) bash scripts/ensure_chromium.sh;; esac
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/mypy .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) scripts/check_translations.py
	$(BIN)/pytest
	@# The default install runs on SQLite: after a PostgreSQL run, the database-only part of the
	@# suite runs on SQLite as well, so a difference between the two cannot pass unseen.
	@case "$${DATABASE_URL:-}" in postgres*) echo "pytest again on SQLite (the default install)"; \
		env -u DATABASE_URL $(BIN)/pytest -q -m "not chaos and not services and not browser";; esac

clean:
	rm -rf .pytest_cache .mypy_cache .ruff_cache staticfiles test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
