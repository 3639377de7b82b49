# Set-up is two commands: `make demo` and `make test`. Both create the virtual environment first.
PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
STAMP   = $(VENV)/.installed

.PHONY: venv demo test lint bench bench-setup bench-small bench-big clean chromium java postgresql

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

test: lint chromium java postgresql
	$(PY) -m pytest -q

# House tooling: lint and types first (seconds), so a slip fails fast; the layering is a test of its own.
lint: venv
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy

# The HTML report tests open the page in Debian's headless chromium; they skip, saying so, only where it
# cannot be installed.
chromium:
	@command -v chromium >/dev/null || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) \
		|| echo "warning: chromium could not be installed; the HTML report's browser tests will skip"

# The throughput benchmark: a ~1 GB corpus (written once), then every contender on it (bench-small), then the
# same records as one big file in each shape (bench-big: Records and NDJSON, gzipped or not, SCALE times over,
# written once under $(BENCH_CORPUS)/big-$(SCALE)). Needs jq and DuckDB.
BENCH_CORPUS ?= benchmarks/corpus
SCALE ?= 1
bench: bench-small bench-big

bench-setup: venv
	$(PY) -m pip install --quiet -e '.[bench]'
	command -v jq >/dev/null || (apt-get update && apt-get install -y jq)
	test -x /usr/bin/time || (apt-get update && apt-get install -y time)  # measures each contender's peak RSS
	test -f $(BENCH_CORPUS)/expected.txt || $(PY) benchmarks/make_corpus.py $(BENCH_CORPUS)
	# Bytecode, as a wheel install writes it: an editable install compiles the package on every start-up.
	$(PY) -m compileall -q src

bench-small: bench-setup
	$(PY) benchmarks/run.py $(BENCH_CORPUS)

bench-big: bench-setup
	$(PY) benchmarks/big_files.py $(BENCH_CORPUS) --scale $(SCALE)

# The PostgreSQL state store's tests start a throwaway cluster of their own (initdb in a temporary folder, a
# loopback port); they skip, saying so, only where the server cannot be installed.
postgresql:
	@test -n "$$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null)" || command -v initdb >/dev/null \
		|| (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql) \
		|| echo "warning: postgresql could not be installed; the PostgreSQL state tests will skip"

# The Spark engine's tests run Spark in local mode, which needs a Java runtime (17 or newer for Spark 4).
java:
	command -v java >/dev/null || (apt-get update && apt-get install -y openjdk-17-jre-headless)

clean:
	rm -rf $(VENV) demo .pytest_cache .hypothesis benchmarks/corpus
