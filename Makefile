# Two commands do all set-up on a fresh machine (see README):
#   make demo   -> installs upliftree and runs the demo report on built-in synthetic data
#   make test   -> installs upliftree with its test extras and runs the whole test suite
PYTHON ?= python3
PIP ?= $(PYTHON) -m pip
DEMO_OUT ?= upliftree-demo
# Hypothesis profile of the tests (tests/conftest.py): "ci" replays fixed examples; HYPOTHESIS_PROFILE=dev draws new ones
export HYPOTHESIS_PROFILE ?= ci

.PHONY: install install-test demo test lint

install:
	@command -v dot >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) || \
		echo "note: install Graphviz (the 'dot' program) to render tree drawings")
	$(PIP) install -q -e .

# Chromium (browser test of the HTML report), a Java runtime (Spark SQL tests, through pyspark) and the
# PostgreSQL server programs (PostgreSQL tests; Debian keeps them in /usr/lib/postgresql/<version>/bin).
install-test: install
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v java >/dev/null 2>&1 || missing="$$missing default-jre-headless"; \
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		missing="$$missing postgresql"; \
	if [ -n "$$missing" ]; then \
		(command -v apt-get >/dev/null 2>&1 && apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) || \
		echo "note: install$$missing to run the browser, PostgreSQL and Spark SQL tests (they are skipped)"; \
	fi
	$(PIP) install -q -e ".[test]"

demo: install
	$(PYTHON) -m upliftree demo --out $(DEMO_OUT)

test: install-test
	$(PYTHON) -m upliftree warmup  # compile the kernels once, not in each of the two pytest workers
	$(PYTHON) -m pytest -n 2 tests

lint:
	$(PYTHON) -m ruff check upliftree tests benchmarks
