# Every target creates .venv when missing. torch==2.13.0 is installed before the
# package on purpose: it takes the local CPU wheel, while a bare `torch`
# requirement lets pip pick a CUDA build of several GB (the text extra's
# sentence-transformers then keeps that CPU torch).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: install demo test lint format bench docs clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e ".[test,skops,onnx,dask,ray,text,faiss]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) examples/demo_digits.py

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install
	$(PY) benchmarks/bench_digits.py
	$(PY) benchmarks/bench_overhead.py

# The gallery runs every example at full settings (minutes to tens of minutes
# on a laptop CPU); `SKSIAMESE_QUICK=1 make docs` runs them in seconds.
docs: install
	$(PIP) install --quiet -e ".[docs]"
	$(VENV)/bin/sphinx-build -W -b html docs docs/_build/html

clean:
	rm -rf $(VENV) docs/_build docs/auto_examples docs/generated .pytest_cache
