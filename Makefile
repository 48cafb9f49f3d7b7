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

install-test: install
	@command -v chromium >/dev/null 2>&1 || (command -v apt-get >/dev/null 2>&1 && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		echo "note: install Chromium to run the browser test of the HTML report")
	$(PIP) install -q -e ".[test]"

demo: install
	$(PYTHON) -m upliftree demo --out $(DEMO_OUT)

test: install-test
	$(PYTHON) -m upliftree warmup  # compile the kernels once, not in each of the two pytest workers
	$(PYTHON) -m pytest -n 2 tests

lint:
	$(PYTHON) -m ruff check upliftree tests benchmarks
