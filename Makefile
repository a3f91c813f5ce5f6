# Two commands: `make site` and `make test`. Both run the one set-up step first: .venv with
# blogtools, its harness, the test tools and the essays' packages at the versions requirements.lock
# pins, the npm packages of package-lock.json and the sandbox's wheels. Only `make test` (and
# `make figures`) add the local-model extra (torch) and measure the 2025-11-22 figure afresh;
# `make site` draws it from the numbers last measured, committed beside its module.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
SETUP  := $(VENV)/.setup
LOCAL  := $(VENV)/.local-model
PIP    := $(BIN)/python -m pip install --quiet -c requirements.lock
FIGURE := 2025-11-22-llm-apis/sync-cost
RECORDED := snippets/2025-11-22-llm-apis/sync-cost.json

.PHONY: setup site docs figures test quick serve bench lock clean

setup: $(SETUP)

$(SETUP): pyproject.toml requirements.lock package.json package-lock.json sandbox-wheels.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip   # 25.1 or later reads --group
	$(PIP) -e '.[guess,harness,queue,sandbox,test]' --group essays
	$(BIN)/python -c 'from blogtools.harness.node import run_node_tool; run_node_tool("npm", "ci", "--no-audit", "--no-fund", check=True)'
	# The sandbox's pure-Python wheels (pypng), for Pyodide to unpack offline.
	$(BIN)/python -m pip download --quiet --no-deps --only-binary=:all: --require-hashes -r sandbox-wheels.txt -d .cache/wheels
	touch $@

$(LOCAL): $(SETUP)
	$(PIP) -e '.[local]'
	touch $@

site: $(SETUP)
	$(BIN)/blogtools run $(FIGURE) -- --from $(RECORDED)   # the figure from the committed numbers
	$(BIN)/blogtools build

# The documentation, a blogtools site of its own (docs/mkdocs.yml): its examples' tests, the command-line
# reference generated from the click commands, then the build, refusing any example not verified.
docs: $(SETUP)
	$(BIN)/blogtools -f docs/mkdocs.yml test
	$(BIN)/blogtools -f docs/mkdocs.yml run reference-cli/cli_reference
	$(BIN)/blogtools -f docs/mkdocs.yml build --require-verified

figures: $(LOCAL)
	$(BIN)/blogtools run $(FIGURE) -- --record $(RECORDED)   # measures afresh (tiny model, CPU)

serve: $(SETUP)
	$(BIN)/blogtools serve

# The suite runs on pytest-xdist workers, one a core; tests sharing a module-scoped fixture (a built
# site, a warm sandbox) stay on one worker, so it is made once, and tests marked `slow` are handed
# out first, in the order tests/conftest.py gives (hence --no-loadscope-reorder).
# `PYTEST_WORKERS=0` runs it serially. `make test` runs every test, as CI does; `make quick` is the
# loop while working: the product's tests (tests/) not marked `slow`, without the figure.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder
test: figures
	$(BIN)/ruff check
	$(BIN)/blogtools check
	$(PYTEST)

quick: $(SETUP)
	$(BIN)/ruff check
	$(PYTEST) -m "not slow" tests

bench: $(SETUP)
	set -e; for bench in benchmarks/*_bench.py; do echo "== $$bench"; $(BIN)/python $$bench; done

# Re-resolve every pin from pyproject.toml's ranges (the newest versions they allow): install into a
# scratch virtualenv without the lock, then `pip freeze` it, under the lock's header comment.
lock:
	rm -rf .cache/lock-venv && $(PYTHON) -m venv .cache/lock-venv
	.cache/lock-venv/bin/python -m pip install --quiet --upgrade pip
	.cache/lock-venv/bin/python -m pip install --quiet -e '.[guess,harness,local,queue,sandbox,test]' --group essays
	{ sed '/^$$/q' requirements.lock; .cache/lock-venv/bin/python -m pip freeze --exclude-editable; } > .cache/requirements.lock
	mv .cache/requirements.lock requirements.lock
	rm -rf .cache/lock-venv

clean:
	rm -rf site build .cache docs/site docs/build docs/.cache
