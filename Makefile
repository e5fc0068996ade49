# Heliograph: `make run` serves the demo on http://127.0.0.1:8000, `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test format bench clean stack messages

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is needed ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	touch $(STAMP)

# The translations (locale/<lang>/LC_MESSAGES/django.po) compiled to the .mo files Django reads,
# with GNU gettext's msgfmt (installed from Debian's packages when missing, as tests/services.py
# installs PostgreSQL). tests/i18n/test_catalogs.py fails when a string is missing or fuzzy in
# any language, or when `makemessages` would change a .po file.
messages: $(STAMP)
	@command -v msgfmt >/dev/null 2>&1 || $(PY) -c "from tests.services import apt_install; apt_install('gettext')"
	$(PY) manage.py compilemessages --ignore=$(VENV) --verbosity 0

# The scheduler (maintenance start/complete, reminders) runs beside the server and stops with it.
run: $(STAMP) messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo
	$(PY) manage.py run_scheduler & trap 'kill $$!' EXIT INT TERM; \
	$(PY) manage.py runserver 127.0.0.1:8000

# Lint, formatting, the layer contract (lint-imports, in pyproject.toml), the deploy check (in
# the suite) and every test, on a throwaway PostgreSQL and Redis that tests/services.py starts
# (and installs from Debian's packages when missing).
test: $(STAMP) messages
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m tests.services $(PY) -m pytest $(PYTEST_ARGS)

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# Requests/s of the cached status page against a bare view of the same bytes (gunicorn, wrk),
# the uncached render time of a 100-component page, and notification delivery (10,000 emails
# against plain smtplib, 1,000 webhooks, fan-out to 100,000), on a throwaway PostgreSQL and Redis;
# what a Redis or worker failure costs (posting during an outage, time to recover); and the
# render time of the worst Markdown we know at the 100,000-character cap; and, on the whole stack
# (deploy/stack.py), the page through nginx's micro-cache against nginx serving its bytes as a file.
bench: $(STAMP)
	$(PY) -m bench.run
	$(PY) -m bench.writes
	$(PY) -m bench.notifications
	$(PY) -m bench.faults
	$(PY) -m bench.markdown
	$(PY) -m bench.alerts
	$(PY) -m bench.stack
	$(PY) -m bench.monitors
	$(PY) -m bench.metrics
	$(PY) -m bench.statuspage_import

# The production stack on this machine (deploy/stack.py): nginx on http://127.0.0.1:$(STACK_PORT)
# in front of two gunicorn nodes, two Celery workers, beat, PostgreSQL, Redis (broker and
# cache) and an SMTP sink, with the demo loaded; Ctrl-C stops it all and removes it.
STACK_PORT ?= 8080
stack: $(STAMP)
	$(PY) -m deploy.stack --port $(STACK_PORT)

clean:
	rm -rf $(VENV) var
