# Two set-up commands: `make site` and `make test`. Both create .venv if missing and install.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
WHEELS := .cache/wheels/.downloaded

.PHONY: site test serve bench clean

$(STAMP): pyproject.toml package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,local,guess]'
	$(BIN)/python -c 'from blogtools.node import run_node_tool; run_node_tool("npm", "ci", "--no-audit", "--no-fund", check=True)'
	touch $@

# The sandbox's pure-Python wheels (pypng), for Pyodide to unpack offline.
$(WHEELS): sandbox-wheels.txt | $(STAMP)
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --require-hashes -r sandbox-wheels.txt -d $(@D)
	touch $@

site: $(STAMP)
	$(BIN)/blogtools run 2025-11-22-llm-apis/sync-cost   # measures and draws the figure under that post
	$(BIN)/blogtools build

serve: $(STAMP)
	$(BIN)/blogtools serve

test: $(STAMP) $(WHEELS)
	$(BIN)/ruff check
	$(BIN)/blogtools check
	$(BIN)/python -m pytest

bench: $(STAMP)
	set -e; for bench in benchmarks/*_bench.py; do echo "== $$bench"; $(BIN)/python $$bench; done

clean:
	rm -rf site build .cache
