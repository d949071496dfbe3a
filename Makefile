# Two commands do everything on a fresh machine with Python 3.11+ and make:
#   make serve   set up, then serve the bundled sample articles on http://127.0.0.1:8000/
#   make test    set up, then run the linter and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: serve test export check bench clean

# What serving needs (the runtime dependencies), then, for `make test` only, the test extra on top.
$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.installed-test: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

serve: $(BIN)/.installed
	$(BIN)/feeds serve

test: $(BIN)/.installed-test
	$(BIN)/ruff check feeds tests wsgi.py bench tools
	$(BIN)/pytest

check: $(BIN)/.installed
	$(BIN)/feeds check

export: $(BIN)/.installed
	$(BIN)/feeds export site

bench: $(BIN)/.installed
	$(BIN)/python bench/bench_scale.py

clean:
	rm -rf $(VENV) site .site.d .pytest_cache .ruff_cache .hypothesis
