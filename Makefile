# Backup Center — one-command entry points. Everything a machine needs is installed by scripts/setup.sh.
#   make run                      set up, migrate, create the admin, seed demo data, start redis/web/worker/beat
#   make test [PYTEST_ARGS=...]   set up for tests and run pytest (PYTEST_ARGS may also come from the environment)
#   make lint                     ruff check + ruff format --check

PYTHON := .venv/bin/python
PYTEST_ARGS ?=

.PHONY: help run test lint setup-run setup-test restic

help:
	@echo "make run   - start Backup Center at http://127.0.0.1:8000/ (redis, web, worker, beat)"
	@echo "make test  - run the test suite (PYTEST_ARGS='-k name' to select)"
	@echo "make lint  - ruff check and format check"

setup-run:
	bash scripts/setup.sh run

setup-test:
	bash scripts/setup.sh test

restic:
	bash scripts/install-restic.sh

run: setup-run
	mkdir -p var/redis
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py collectstatic --noinput
	$(PYTHON) manage.py ensure_admin
	$(PYTHON) manage.py seed_demo
	@echo ""
	@echo "==> Backup Center: http://127.0.0.1:8000/  (Ctrl-C stops redis, web, worker and beat)"
	@echo ""
	.venv/bin/honcho start -f Procfile

test: setup-test
	.venv/bin/pytest $(PYTEST_ARGS)

lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
