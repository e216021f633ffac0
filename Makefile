# Permanence: the two commands a newcomer needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What is installed, one stamp each: `make demo` needs the project and its dependencies only;
# `make test` adds the `test` extra (pytest, playwright, ruff, mypy...) on top.
DEMO_STAMP := $(VENV)/.demo-installed
TEST_STAMP := $(VENV)/.test-installed
PIP_INSTALL := $(BIN)/python -m pip install --no-compile -c constraints.txt
HOST ?= 127.0.0.1
PORT ?= 8000
CALLS_PER_HOUR ?= 12
# The pure cores: no Django import, strict typing.
CORES := src/permanence/accounts/hours.py src/permanence/accounts/phones.py src/permanence/accounts/periods.py \
         src/permanence/directory/rules.py src/permanence/directory/search.py src/permanence/directory/rota.py \
         src/permanence/textlists.py src/permanence/outbound.py src/permanence/adapters.py \
         src/permanence/scenarios/engine src/permanence/calls/lifecycle.py src/permanence/calls/admission.py \
         src/permanence/calls/routing.py src/permanence/calls/simulator.py src/permanence/calls/desk_events.py \
         src/permanence/messaging/signing.py src/permanence/messaging/sms.py src/permanence/messaging/retry.py \
         src/permanence/messaging/preferences.py src/permanence/agenda/slots.py \
         src/permanence/planning/erlang.py src/permanence/planning/grid.py src/permanence/planning/simulation.py src/permanence/planning/forecast.py src/permanence/planning/weekplan.py src/permanence/planning/commands.py src/permanence/scenarios/commands.py \
         src/permanence/reporting/kpis.py src/permanence/reporting/charts.py src/permanence/reporting/scorecard.py \
         src/permanence/telephony/sip.py src/permanence/telephony/media.py src/permanence/telephony/ng.py \
         src/permanence/telephony/credentials.py src/permanence/telephony/trial.py \
         src/permanence/telephony/recorder.py src/permanence/telephony/speech.py \
         src/permanence/telephony/bridge.py src/permanence/billing/rating.py src/permanence/billing/sla.py \
         src/permanence/billing/documents.py

.PHONY: demo test suite lint bench install install-test serve clean messages telephony

install: $(DEMO_STAMP)
install-test: $(TEST_STAMP)

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Permanence needs Python 3.11 or newer; this is " + sys.version.split()[0])'
	@echo "== creating the virtual environment $(VENV)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# --no-compile: bytecode is written as modules are first imported, only for those used (the install
# takes 10 s instead of 17 s from a fresh clone; the whole `make demo` 4 to 7 s of CPU less).
$(DEMO_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	@echo "== installing Permanence and the packages it runs on into $(VENV)"
	$(PIP_INSTALL) -e .
	touch $@

# Only the test extra, on top of the demo's packages (read from pyproject.toml).
$(TEST_STAMP): $(DEMO_STAMP)
	@echo "== installing the test tools (the test extra: pytest, playwright, ruff, mypy...)"
	$(BIN)/python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["test"]))' > $(VENV)/test-requirements.txt
	$(PIP_INSTALL) -r $(VENV)/test-requirements.txt
	touch $@

# Plain http: the cookies are not marked Secure (SECURE_COOKIES=0 unless given), whatever the browser;
# the demo's operator logins sign in without the second factor they must set up elsewhere.
demo: install
	@echo "== creating or updating the database"
	$(BIN)/permanence migrate --no-input
	@echo "== loading the demo accounts and ten weeks of past calls"
	$(BIN)/permanence load_demo
	@echo
	@echo "Permanence is starting on http://$(HOST):$(PORT)/"
	@echo "  back-office: http://$(HOST):$(PORT)/admin/   API docs: http://$(HOST):$(PORT)/api/v1/docs"
ifeq ($(TELEPHONY),sip)
	@echo "  desk phone: http://$(HOST):$(PORT)/desk/phone/ (sign in as secretaire, click Disponible; real calls from make telephony)"
else
	@echo "  desk: http://$(HOST):$(PORT)/desk/ (sign in as secretaire, click Disponible: simulated calls arrive)"
endif
	@echo "  messages: sent by a worker as files in var/outbox/ (e-mails) and var/outbox-sms/ (SMS) (log: var/worker.log)"
	@echo "  figures: http://$(HOST):$(PORT)/reports/  staffing: http://$(HOST):$(PORT)/planning/ (as admin; ten weeks of past calls)"
	@echo "  (Ctrl+C to stop)"
	@EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend SMS_PROVIDER=file $(BIN)/permanence worker > var/worker.log 2>&1 & \
	worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	SECURE_COOKIES=$${SECURE_COOKIES:-0} SECOND_FACTOR_REQUIRED=$${SECOND_FACTOR_REQUIRED:-0} $(BIN)/permanence serve --host $(HOST) --port $(PORT) $(if $(filter sip,$(TELEPHONY)),,--simulate $(CALLS_PER_HOUR))

# Real telephony on this machine (docs/telephony.md; Debian's kamailio, kamailio-websocket-modules,
# kamailio-autheph-modules, rtpengine-daemon): rtpengine, Kamailio and the call control, the trunk's
# calls accepted from 127.0.0.2. With `make demo TELEPHONY=sip` beside it, `permanence telephony call
# 0145000001` (from another terminal) rings the desk phone of a secretary who is ready.
telephony: install
	@mkdir -p var
	TELEPHONY=sip TELEPHONY_TRUNK_ADDRESSES=$${TELEPHONY_TRUNK_ADDRESSES:-127.0.0.2} \
		$(BIN)/permanence telephony up

test: install-test lint
	@$(MAKE) --no-print-directory suite

# The test suite without the lint (`.ci/run` lints once, then runs suites side by side).
suite: install-test
	SECRET_KEY="$${SECRET_KEY:-test-only-key-not-secret}" $(BIN)/pytest $(PYTEST_ARGS)

lint: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy $(CORES)

bench: install-test
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
