# Set-up is two commands: `make demo` and `make test`. Both create the virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: venv demo test clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: venv
	rm -rf demo
	$(PY) -m trailhound.demo demo
	$(VENV)/bin/trailhound scan demo --format table

test: venv
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis
