# Set-up is two commands: `make demo` and `make test`. Both create the virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: venv demo test clean java

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

test: venv java
	$(PY) -m pytest -q

# The Spark engine's tests run Spark in local mode, which needs a Java runtime (17 or newer for Spark 4).
java:
	command -v java >/dev/null || (apt-get update && apt-get install -y openjdk-17-jre-headless)

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis
