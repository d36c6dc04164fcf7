# The book's two commands: `make book` (the executed website) and `make test` (every test).
# Both create .venv from the pinned environment in .ci/requirements.txt on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_OUT := $(CURDIR)/_build/test

.PHONY: book test student env clean

env: $(STAMP)

$(STAMP): .ci/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r .ci/requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# The website: executes every chapter (DLBOOK_MODE, full by default) and builds _build/html, warnings as errors.
book: $(STAMP)
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "Open _build/html/index.html"

# Every test, in quick mode: unit tests and notebook conventions; every chapter once through nbval
# (the capture plugin keeps the executed notebooks); then checks on those runs and the -W site build
# from the executed notebooks, with execution off.
test: $(STAMP)
	rm -rf $(TEST_OUT)
	DLBOOK_MODE=quick DLBOOK_TEST_OUT=$(TEST_OUT) DLBOOK_METRICS_DIR=$(TEST_OUT)/metrics \
	$(BIN)/python -m pytest tests/unit chapters tests/book \
	    -p tests.nbval_capture --nbval-lax --nbval-cell-timeout=600 -q -rfE --durations=15

# Student versions of every chapter, into student/.
student: $(STAMP)
	$(BIN)/python -m dlbook_utils.student chapters --out student

clean:
	rm -rf _build student
