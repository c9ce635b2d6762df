# One entry point for a fresh machine: `make run` and `make test` set up what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
# System packages (Debian names). Running needs these; the tests need TEST_APT_PACKAGES too.
APT_PACKAGES := espeak-ng libespeak-ng1
TEST_APT_PACKAGES := chromium postgresql sox asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata
PYTEST_ARGS ?=

.PHONY: run test setup test-setup system test-system lint postgres stop-postgres reset clean

run: setup
	$(VENV)/bin/hotline serve --host 127.0.0.1 --port 8000

test: test-setup postgres
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HOTLINE_TEST_POSTGRES_URL=$$(scripts/test-postgres.sh url) $(PY) -m pytest -n 2 $(PYTEST_ARGS)

setup: system $(VENV)/.installed

test-setup: test-system $(VENV)/.installed-dev

system:
	@scripts/system-packages.sh $(APT_PACKAGES)

test-system:
	@scripts/system-packages.sh $(APT_PACKAGES) $(TEST_APT_PACKAGES)

# torch first, pinned to the CPU wheel, or pip pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e .
	touch $@

# The test tools (pytest, ruff, playwright, ...) on top of what running needs.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

postgres:
	scripts/test-postgres.sh start

stop-postgres:
	scripts/test-postgres.sh stop

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

# Forget everything the server wrote: the database file, index, models, the hashing key.
# The folder is the one the server uses (HOTLINE_DATA_DIR, from the environment or .env).
reset:
	@dir=$$( [ -x $(PY) ] && $(PY) -c 'from bot.settings import Settings; print(Settings().data_dir.resolve())' \
		|| echo "$${HOTLINE_DATA_DIR:-var}" ); \
	echo "removing the data folder $$dir"; rm -rf "$$dir"

clean: reset
	rm -rf .pytest_cache
