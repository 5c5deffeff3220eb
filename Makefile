# Newsroom: `make run` serves the site with demo content, `make test` runs every check.
# Both build the virtualenv first, so a fresh clone needs only Python 3.12.

PYTHON ?= python3.12
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/newsroom

# Links in emails, canonical URLs and feeds point at the server `make run` starts.
SITE_URL ?= http://$(HOST):$(PORT)

DEV := DEBUG=1 SITE_URL=$(SITE_URL)

# Python's bytecode cache (and pytest's cache of rewritten test modules) on, as
# Python ships it: some shells and containers switch it off for the whole machine,
# which makes every test run recompile the project.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test test-fast test-sqlite test-postgres lint checks install browser varnish validator wrk bench bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Reinstall only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser tests; Playwright cannot download browsers here.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		echo "Installing Debian's chromium for the browser tests"; \
		apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }

# Debian's Varnish for tests/test_varnish.py and the benchmark's shared-cache rows.
varnish:
	@command -v varnishd >/dev/null 2>&1 || [ -x /usr/sbin/varnishd ] || { \
		echo "Installing Debian's varnish for the shared-cache tests"; \
		apt-get update -qq && apt-get install -y -qq varnish >/dev/null; }

# The Nu HTML Checker (the W3C's validator) for tests/test_html_validation.py: npm's
# vnu-jar carries vnu.jar itself, and it needs a Java runtime.
VNU_VERSION := 26.9.27
VNU_JAR := $(VENV)/vnu/node_modules/vnu-jar/build/dist/vnu.jar

$(VNU_JAR): | $(BIN)/python
	@command -v npm >/dev/null 2>&1 || { \
		echo "Installing Debian's npm for the HTML checker"; \
		apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	npm install --silent --no-audit --no-fund --ignore-scripts \
		--prefix $(VENV)/vnu vnu-jar@$(VNU_VERSION)

validator: $(VNU_JAR)
	@command -v java >/dev/null 2>&1 || { \
		echo "Installing Debian's Java runtime for the HTML checker"; \
		apt-get update -qq && apt-get install -y -qq default-jre-headless >/dev/null; }

run: install
	$(DEV) $(BIN)/python manage.py migrate --noinput
	$(DEV) $(BIN)/python manage.py seed_demo
	@echo "Serving http://$(HOST):$(PORT)/ (admin: http://$(HOST):$(PORT)/admin/) with the task worker"
	@trap 'kill 0' EXIT INT TERM; \
		$(DEV) $(BIN)/python manage.py db_worker --queue-name '*' & \
		$(DEV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

checks: install
	$(DEV) $(BIN)/python manage.py check --fail-level WARNING
	$(DEV) $(BIN)/python manage.py makemigrations --check --dry-run

# Everything that starts no process, server or browser: the tier to run while working.
# Two pytest-xdist workers, each given whole modules (module fixtures built once);
# FAST_WORKERS=0 runs it in one process, quicker when the cores are busy elsewhere.
FAST_WORKERS ?= 2

test-fast: install
	$(BIN)/pytest -m "not slow" -n $(FAST_WORKERS) --dist loadfile

# Property tests try many examples here, a few in test-fast (tests/conftest.py).
THOROUGH := --hypothesis-profile=thorough

test-sqlite: install browser varnish validator
	$(BIN)/pytest $(THOROUGH)

# PostgreSQL runs when it answers on 127.0.0.1:5432; skipped (with a message) if not.
# The browser and Varnish tests drive pages the same way whatever the database
# holds them, so they run once, on SQLite; everything else runs on both.
test-postgres: install validator
	@if $(BIN)/python -c "import psycopg; psycopg.connect('$(PG_URL)'.rsplit('/', 1)[0] + '/postgres', connect_timeout=3).close()" 2>/dev/null; then \
		DATABASE_URL=$(PG_URL) $(BIN)/pytest $(THOROUGH) -m "not browser and not varnish"; \
	else \
		echo "PostgreSQL is not reachable at $(PG_URL): skipping the PostgreSQL run"; \
	fi

test: lint checks test-sqlite test-postgres bench-smoke

# wrk, the load generator the benchmark drives the server with.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
		echo "Installing Debian's wrk for the benchmark"; \
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

# The full benchmark takes several minutes; `make bench BENCH_ARGS=--quick` a small one.
bench: install wrk varnish
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Part of `make test`: the benchmark still runs end to end (small dataset, 1-second
# loads, about a minute). Timings never fail it; a crash, a failed request, a change
# that never shows through Varnish or a lost or doubled newsletter email does.
bench-smoke: install wrk varnish
	$(BIN)/python bench/run.py --quick --duration 1 --repeat 1 --connections 16 \
		--newsletter-seconds 5 --strict

clean:
	rm -rf $(VENV) db.sqlite3 db.sqlite3-shm db.sqlite3-wal staticfiles
