# Score Portal — the commands a developer (and CI) needs. See README.md.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# Re-install whenever the pinned requirements change.
INSTALLED := $(VENV)/.installed

STAGE ?= dev
# make run PORT=8001 when 8000 is taken.
PORT ?= 8000

.PHONY: help install browsers run test bench bench-audit bench-convert bench-import bench-impact load lint format requirements package messages clean

help:
	@echo "make run          install, migrate, start local DynamoDB, seed demo data, serve :8000"
	@echo "                 (PORT=8001 for another port); the usage summary is kept current"
	@echo "make test         install, provision Postgres + local DynamoDB, run the whole suite"
	@echo "make bench        measure the score path and cold start (bench/README.md)"
	@echo "make bench-audit  the auditors' pages at 10 million audit rows (bench/README.md)"
	@echo "make bench-convert a 10-million-row trail partitioned while rows arrive (bench/README.md)"
	@echo "make bench-import a CSV import of 1 million profiles, new then changed (bench/README.md)"
	@echo "make bench-impact a scorecard's impact over 1 million profiles (bench/README.md)"
	@echo "make load         a mixed load (30 s, 32 connections) reconciled with the audit trail"
	@echo "make package      build the Lambda zip (STAGE=dev|production) into build/"
	@echo "make lint         ruff (lint + format check), mypy, import contracts, migrations made,"
	@echo "                 cfn-lint (infra/) and the workflows' schema"
	@echo "make format       apply ruff's formatting and safe fixes"
	@echo "make requirements re-pin requirements*.txt from requirements*.in"
	@echo "make messages     update the pt-BR catalog from the code, then compile it"

$(INSTALLED): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

install: $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/python -m devstack run --port $(PORT)

# The admin's browser tests drive Debian's Chromium with its ChromeDriver. Installed here when
# missing and we may (root, apt); otherwise those tests are skipped, or fail under CI=true.
browsers:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] && [ -f /usr/lib/chromium/locales/pt-BR.pak ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "Installing chromium, chromium-driver and chromium-l10n (browser tests)…"; \
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium chromium-driver chromium-l10n >/dev/null \
		|| { apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q chromium chromium-driver chromium-l10n >/dev/null; }; \
	else \
		echo "Chromium, ChromeDriver or Chromium's pt-BR translations are missing: browser tests are skipped without the first two, their own controls read in English without the third (sudo apt-get install chromium chromium-driver chromium-l10n)."; \
	fi

test: $(INSTALLED) browsers
	$(BIN)/python -m devstack test $(ARGS)

bench: $(INSTALLED)
	$(BIN)/python -m bench $(ARGS)

bench-audit: $(INSTALLED)
	$(BIN)/python -m bench.audit $(ARGS)

bench-convert: $(INSTALLED)
	$(BIN)/python -m bench.convert $(ARGS)

bench-import: $(INSTALLED)
	$(BIN)/python -m bench.imports $(ARGS)

bench-impact: $(INSTALLED)
	$(BIN)/python -m bench.impact $(ARGS)

load: $(INSTALLED)
	$(BIN)/python -m bench.ledger $(ARGS)

package: $(INSTALLED)
	$(BIN)/python -m devstack package $(STAGE)

messages: $(INSTALLED)
	$(BIN)/python -m devstack messages

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	DJANGO_DEBUG=true $(BIN)/mypy .
	$(BIN)/lint-imports --no-cache
	DJANGO_DEBUG=true DJANGO_IGNORE_DOT_ENV=true DATABASE_URL=sqlite:///:memory: $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/cfn-lint infra/*.yaml
	$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	$(BIN)/check-jsonschema --builtin-schema custom.github-workflows-require-timeout .github/workflows/*.yml

format: $(INSTALLED)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

requirements: $(INSTALLED)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile requirements.in -o requirements.txt --python-version 3.11 --no-header --annotation-style line
	$(BIN)/uv pip compile requirements-dev.in -o requirements-dev.txt --python-version 3.11 --no-header --annotation-style line

clean:
	rm -rf $(VENV) .devstack .pytest_cache .mypy_cache .ruff_cache .import_linter_cache staticfiles build dist
