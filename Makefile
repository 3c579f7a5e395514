# The README's two commands: `make run` and `make test`. Both build .venv from nothing.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEMO   := build/demo

.PHONY: run test bench schemas samples docs man clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -e '.[test,samples]'
	touch $(STAMP)

samples: $(STAMP)
	rm -rf $(DEMO) && mkdir -p $(DEMO)
	$(PY) samples/make_samples.py --out $(DEMO)/spool

run: samples
	bash samples/demo.sh $(DEMO)

# The tests run in parallel, one process per core (at most 4): serially they took over
# 17 minutes on a slow 2-core machine, against CI's 20 (docs/decisions.md).
test: $(STAMP)
	$(PY) -m pytest -n auto --maxprocesses=4

bench: $(STAMP)
	$(PY) benchmarks/run_all.py

schemas: $(STAMP)
	$(PY) -m cluetool.model.schemas --write schemas

# docs/cli.md and the man page docs/cluetool.1, both from the commands' own help
# (tests/test_clidoc.py fails when the committed copies are stale).
docs: $(STAMP)
	$(PY) -m cluetool.clidoc --markdown docs/cli.md --man docs/cluetool.1

man: docs
	@echo "read it with: man ./docs/cluetool.1 (install: cp docs/cluetool.1 ~/.local/share/man/man1/)"

clean:
	rm -rf $(VENV) build .pytest_cache
