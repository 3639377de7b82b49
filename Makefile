# Set-up is two commands: `make demo` and `make test`. Both create the virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: venv demo test clean chromium

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

test: venv chromium
	$(PY) -m pytest -q

# The HTML report tests open the page in Debian's headless chromium; they skip, saying so, only where it
# cannot be installed.
chromium:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
		|| echo "warning: chromium could not be installed; the HTML report's browser tests will skip"

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis
