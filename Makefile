# The project's commands. `make run` and `make test` work on a fresh machine with only
# Python 3.11, git and make: they create .venv and install what they need.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# The demo's local, Stripe-compatible test server (manage.py run_test_stripe), always on 127.0.0.1.
STRIPE_PORT ?= 8420
# pytest-xdist workers for `make test` and `make test-pg`: one per CPU core; TEST_WORKERS=0 runs the suite in
# this one process (for a debugger, or output in order). Under `make test-pg`, worker gwN uses the Redis database
# N above REDIS_URL's (website/settings/test.py), so REDIS_URL's database plus the workers must stay within 0-15.
TEST_WORKERS ?= auto

.PHONY: install run test test-pg e2e lint format messages seed migrate ci clean help

help:
	@echo "make run       install, migrate, load the demo clinic and serve http://$(HOST):$(PORT)"
	@echo "               (with test online payments on 127.0.0.1:$(STRIPE_PORT) unless Stripe keys are set)"
	@echo "make test      run the pytest suite on SQLite, one worker per core (TEST_WORKERS=0: serially)"
	@echo "make test-pg   run the suite on PostgreSQL + Redis (DATABASE_URL, REDIS_URL), in parallel too"
	@echo "make e2e       browser tests in Chromium (needs /usr/bin/chromium)"
	@echo "make lint      ruff check and format check"
	@echo "make messages  update and compile the es/en translation catalogues"
	@echo "make ci        everything CI runs (.ci/run): installs PostgreSQL, Redis, Chromium if missing"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed-dev

migrate: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# For `make run` and what it runs first (migrate, seed): the development settings derive SITE_URL from the address
# served, unless SITE_URL is set (environment or .env), so that canonical links, og:url and JSON-LD point here;
# and, unless STRIPE_SECRET_KEY is set (environment or .env), the site pays through the local test server.
run: export RUN_HOST = $(HOST)
run: export RUN_PORT = $(PORT)
run: export LOCAL_STRIPE_PORT = $(STRIPE_PORT)
run: seed
	@if command -v msgfmt >/dev/null; then $(BIN)/python manage.py compilemessages --ignore=.venv -v 0; \
	else echo "gettext (msgfmt) is not installed: using the committed .mo catalogues"; fi
	@echo "Starting the huey consumer (background tasks), the local test Stripe and the web server on http://$(HOST):$(PORT)"
	@trap 'kill 0' INT TERM EXIT; \
	$(BIN)/python manage.py run_test_stripe & \
	$(BIN)/python manage.py run_huey --quiet & \
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

test-pg: $(VENV)/.installed-dev
	@case "$$DATABASE_URL" in postgres*) ;; *) echo "Set DATABASE_URL=postgres://postgres@127.0.0.1:5432/clinic (and REDIS_URL=redis://127.0.0.1:6379/8)"; exit 2;; esac
	$(BIN)/python -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

# pyproject's addopts leave tests/e2e out of `make test`; here they are the only thing collected.
e2e: $(VENV)/.installed-dev
	@test -x "$${CHROMIUM_PATH:-/usr/bin/chromium}" || (echo "Chromium not found: apt-get install chromium" && exit 2)
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(BIN)/python -m pytest tests/e2e -o addopts="-p no:cacheprovider --strict-markers -ra" $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

messages: $(VENV)/.installed
	$(BIN)/python manage.py makemessages -l es -l en --ignore=.venv --ignore=staticfiles --ignore=tests --no-obsolete
	$(BIN)/python manage.py compilemessages --ignore=.venv

ci:
	bash .ci/run

clean:
	rm -rf $(VENV) staticfiles .test-media
