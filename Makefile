# One entry point for a fresh machine: `make run` and `make test` set up what they need first.
VENV ?= .venv
PY := $(VENV)/bin/python
APT_PACKAGES := espeak-ng libespeak-ng1 chromium postgresql sox asterisk-core-sounds-en-wav asterisk-core-sounds-en pocketsphinx-testdata
PYTEST_ARGS ?=

.PHONY: run test setup system lint postgres clean

run: setup
	$(VENV)/bin/hotline serve --host 127.0.0.1 --port 8000

test: setup postgres
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	HOTLINE_TEST_POSTGRES_URL=$$(scripts/test-postgres.sh url) $(PY) -m pytest -n 2 $(PYTEST_ARGS)

setup: system $(VENV)/.installed

system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:$$missing"; \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi

# torch first, pinned to the CPU wheel, or pip pulls a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

postgres:
	scripts/test-postgres.sh start

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

clean:
	rm -rf var .pytest_cache
