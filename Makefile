# The book's two commands: `make book` (the executed website) and `make test` (every test).
# Both create .venv from the pinned environment in .ci/requirements.txt on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_OUT := $(CURDIR)/_build/test
# make test's JAX pass runs the backend-agnostic chapters in this many groups, one group a day (1: all of them).
JAX_GROUPS ?= 2

.PHONY: book test bench student env vendor clean

env: $(STAMP)

$(STAMP): .ci/requirements.txt .ci/requirements-colab-widgets.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r .ci/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	rm -rf $(VENV)/colab-widgets
	$(BIN)/python -m pip install --quiet --no-deps --target $(VENV)/colab-widgets -r .ci/requirements-colab-widgets.txt
	touch $(STAMP)

# The website's own copies of MathJax 3 and of the widget scripts (so equations and widgets show offline): npm
# packages at the versions and checksums pinned in dlbook_utils/mathjax.py and dlbook_utils/widgetjs.py, unpacked
# into _vendor/ (not committed). Fetched once; later runs only check them. Without access to the npm registry this
# fails and says what to do.
vendor: $(STAMP)
	$(BIN)/python -m dlbook_utils.mathjax _vendor/mathjax
	$(BIN)/python -m dlbook_utils.widgetjs _vendor/widgets

# The website: executes the chapters (DLBOOK_MODE, full by default) and builds _build/html, warnings as errors.
# Incremental: each mode keeps its executed notebooks in _build/.jupyter_cache/<mode> and a rebuild runs only
# the chapters whose code changed (an unknown DLBOOK_MODE is an error). The cache cannot see changes in
# dlbook_utils or in the data: after those, `make book FORCE=1` empties the mode's cache and runs every chapter.
book: $(STAMP) vendor
	$(BIN)/python -m dlbook_utils.book . $(if $(FORCE),--force) -- -W -n --keep-going
	@echo "Open _build/html/index.html"

# Every test, in quick mode: unit tests and notebook conventions; every chapter once through nbval
# (the capture plugin keeps the executed notebooks); then checks on those runs and the -W site build
# from the executed notebooks, with execution off; last, that site in headless Chromium (tests/book/test_browser.py).
test: $(STAMP) vendor
	rm -rf $(TEST_OUT)
	DLBOOK_MODE=quick DLBOOK_TEST_OUT=$(TEST_OUT) DLBOOK_METRICS_DIR=$(TEST_OUT)/metrics \
	$(BIN)/python -m pytest tests/unit chapters tests/book \
	    -p tests.nbval_capture --nbval-lax --nbval-cell-timeout=300 -q -rfE --durations=15
	# The JAX pass, with TensorFlow hidden as on a machine without it: the backend-dependent unit tests, and the
	# chapters that are not TensorFlow-only (dlbook_utils/backends.py), today's group of $(JAX_GROUPS) (README).
	# Same calibration unit; executed copies go to executed-jax/, metrics to metrics-jax/.
	DLBOOK_MODE=quick DLBOOK_TEST_OUT=$(TEST_OUT) DLBOOK_METRICS_DIR=$(TEST_OUT)/metrics-jax \
	KERAS_BACKEND=jax PYTHONPATH=$(CURDIR)/tests/without_tensorflow \
	$(BIN)/python -m pytest tests/unit -m backends chapters \
	    -p tests.nbval_capture --nbval-lax --nbval-cell-timeout=300 -q -rfE \
	    --reuse-calibration --rotate-chapters=$(JAX_GROUPS)

# The chapters' quick-mode cost on this machine, in calibration units (a benchmark: nothing fails on time).
bench: $(STAMP)
	DLBOOK_MODE=quick $(BIN)/python -m dlbook_utils.bench --out _build/bench/timings.md

# Student versions of every chapter, into student/.
student: $(STAMP)
	$(BIN)/python -m dlbook_utils.student chapters --out student

clean:
	rm -rf _build _vendor student
