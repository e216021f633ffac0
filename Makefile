# Permanence: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
HOST ?= 127.0.0.1
PORT ?= 8000
CALLS_PER_HOUR ?= 12
# The pure cores: no Django import, strict typing.
CORES := src/permanence/accounts/hours.py src/permanence/accounts/phones.py \
         src/permanence/directory/rules.py src/permanence/directory/search.py src/permanence/textlists.py \
         src/permanence/scenarios/engine src/permanence/calls/lifecycle.py \
         src/permanence/calls/routing.py src/permanence/calls/simulator.py \
         src/permanence/messaging/signing.py src/permanence/messaging/sms.py src/permanence/messaging/retry.py \
         src/permanence/messaging/preferences.py src/permanence/agenda/slots.py \
         src/permanence/planning/erlang.py src/permanence/planning/simulation.py src/permanence/planning/forecast.py \
         src/permanence/reporting/kpis.py src/permanence/reporting/charts.py

.PHONY: demo test lint bench install serve clean messages

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Permanence needs Python 3.11 or newer; this is " + sys.version.split()[0])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/permanence migrate --no-input
	$(BIN)/permanence load_demo
	@echo
	@echo "Permanence is starting on http://$(HOST):$(PORT)/"
	@echo "  back-office: http://$(HOST):$(PORT)/admin/   API docs: http://$(HOST):$(PORT)/api/v1/docs"
	@echo "  desk: http://$(HOST):$(PORT)/desk/ (sign in as secretaire, click Disponible: simulated calls arrive)"
	@echo "  messages: sent by a worker as files in var/outbox/ (log: var/worker.log)"
	@echo "  figures: http://$(HOST):$(PORT)/reports/  staffing: http://$(HOST):$(PORT)/planning/ (as admin; ten weeks of past calls)"
	@echo "  (Ctrl+C to stop)"
	@EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend $(BIN)/permanence worker > var/worker.log 2>&1 & \
	worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(BIN)/permanence serve --host $(HOST) --port $(PORT) --simulate $(CALLS_PER_HOUR)

test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy $(CORES)

bench: install
	@for script in bench/bench_*.py; do echo "== $$script"; PYTHONPATH=src $(BIN)/python $$script || exit 1; done

# Refresh the translation catalogues after changing user-facing text, then
# translate the new entries in locale/fr/LC_MESSAGES/django.po (needs GNU gettext).
messages: install
	cd src/permanence && ../../$(BIN)/django-admin makemessages -l fr -l en --no-obsolete \
		--settings=permanence.settings --pythonpath=..
	for lang in fr en; do msgfmt --check -o src/permanence/locale/$$lang/LC_MESSAGES/django.mo \
		src/permanence/locale/$$lang/LC_MESSAGES/django.po; done

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
