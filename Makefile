# trackerweb: `make run` serves the dashboard, `make test` runs every test.
# Both create .venv and install requirements.txt on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Root installs system packages directly; anyone else through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser wrk pgbouncer run serve test soak bench check clean rasa-pro-fixtures rasa-pro-check

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

# `make run ENDPOINTS=/path/to/bot/endpoints.yml [DOMAIN=/path/to/domain.yml]`: the dashboard on that
# bot's store, no demo data (manage.py start_dashboard). Without ENDPOINTS: the demo.
run: install
ifdef ENDPOINTS
	$(PY) manage.py start_dashboard --endpoints "$(ENDPOINTS)" $(if $(DOMAIN),--domain "$(DOMAIN)") $(HOST):$(PORT)
else
	$(PY) manage.py check
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo
	@echo "trackerweb: http://$(HOST):$(PORT)/"
	$(PY) manage.py runserver --insecure $(HOST):$(PORT)
endif

# Production: gunicorn on $(HOST):$(PORT) with $(WORKERS) workers, static files
# collected for WhiteNoise. Configure with the environment (README, "Running in
# production"); check --deploy lists what is still unsafe. The app (and its
# bounded wait for the tracker store) loads once, before the workers fork.
WORKERS ?= 2
serve: install
	$(PY) manage.py check --deploy
	$(PY) manage.py collectstatic --noinput
	$(PY) manage.py wait_for_store
	$(PY) manage.py migrate --noinput
	$(VENV)/bin/gunicorn trackerweb.wsgi:application --preload --bind $(HOST):$(PORT) --workers $(WORKERS)

# Debian's Chromium and its driver, for the tests that use a real browser.
browser:
	@command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1 || { \
	  echo "Installing Debian's chromium and chromium-driver for the browser tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Debian's wrk, the HTTP load generator of the serving benchmark (bench/serving.py).
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "Installing Debian's wrk for the serving benchmark"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

# Debian's pgbouncer, for the tests (and benchmarks) that run the SQL store behind it in transaction pooling mode.
pgbouncer:
	@command -v pgbouncer >/dev/null 2>&1 || [ -x /usr/sbin/pgbouncer ] || { \
	  echo "Installing Debian's pgbouncer for the connection pooling tests"; \
	  $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null; }

# Real Rasa 3.6 reads the training data we write (scripts/with-rasa: its own venv, made once).
# The tests run in TEST_WORKERS processes at once (pytest-xdist), one per core of our 2-core machines;
# each has databases, a Redis db and a browser of its own (README, "Tests"). TEST_WORKERS=0: one process.
TEST_WORKERS ?= 2
test: install browser pgbouncer
	scripts/with-fast-tmp scripts/with-test-mongo scripts/with-rasa $(VENV)/bin/pytest -n $(TEST_WORKERS)

# Rewrites tests/fixtures/rasa-pro-3.21/ with real Rasa Pro 3.21 (its own venv, .rasa-pro-venv, made
# once; see the README there): SQLite, PostgreSQL, Redis (one server, and a Redis Cluster) and Mongo.
# `scripts/with-rasa-pro scripts/rasa_pro_fixtures.py --only redis-cluster` rewrites the cluster's dump
# alone (redis_cluster_keys.json), every other file left as it is. Not part of `make test`.
rasa-pro-fixtures: install
	scripts/with-rasa-pro scripts/with-test-mongo scripts/rasa_pro_fixtures.py

# Real Rasa Pro 3.21 reads what trackerweb writes: every fixture conversation written by trackerweb into
# SQLite, PostgreSQL, Redis (one server, and a Redis Cluster) and Mongo and read back by Rasa Pro's own
# stores, and every E2E test case
# trackerweb exports loaded by Rasa Pro's reader (scripts/rasa_pro_check.py). Not part of `make test`.
rasa-pro-check: install
	scripts/with-rasa-pro scripts/with-test-mongo scripts/rasa_pro_check.py

# The fault tests, longer: each database crashed and restarted 20 times under a write load.
soak: install
	TRACKERWEB_SOAK_CRASHES=20 scripts/with-fast-tmp scripts/with-test-mongo $(VENV)/bin/pytest tests/faults -k whole

# Speed goals live here, not in unit tests: results go into BENCHMARKS.md.
bench: install wrk pgbouncer
	scripts/with-test-mongo $(PY) bench/write_path.py --write BENCHMARKS.md
	scripts/with-test-mongo $(PY) bench/queries.py --write BENCHMARKS.md
	$(PY) bench/export.py --write BENCHMARKS.md
	scripts/with-test-mongo $(PY) bench/concurrency.py --write BENCHMARKS.md
	$(PY) bench/inbox.py --write BENCHMARKS.md
	scripts/with-test-mongo $(PY) bench/transcript.py --write BENCHMARKS.md
	$(PY) bench/live_indexing.py --write BENCHMARKS.md
	$(PY) bench/serving.py --write BENCHMARKS.md

check: install
	$(PY) manage.py check

clean:
	rm -rf $(VENV) .pytest_cache
