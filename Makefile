# trackerweb: `make run` serves the dashboard, `make test` runs every test.
# Both create .venv and install requirements.txt on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test check clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements.txt
	touch $@

run: install
	$(PY) manage.py check
	$(PY) manage.py migrate --noinput
	$(PY) manage.py setup_demo
	@echo "trackerweb: http://$(HOST):$(PORT)/"
	$(PY) manage.py runserver --insecure $(HOST):$(PORT)

test: install
	$(VENV)/bin/pytest

check: install
	$(PY) manage.py check

clean:
	rm -rf $(VENV) .pytest_cache
