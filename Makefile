# Make is the front door: every target sets up what it needs and can be run twice.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
REGION ?=
PORT   ?= 8311
DATA_DIR ?= .local-data
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 18,20
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 18,20

.PHONY: run test lint synth deploy destroy bench directory clean

$(STAMP): requirements.txt requirements-powertools.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	PORT=$(PORT) DATA_DIR=$(DATA_DIR) bash scripts/run-local.sh

test: $(STAMP)
	bash scripts/e2e-deps.sh
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy layers/core/python/text311

synth: $(STAMP)
	npx --yes aws-cdk@2 synth --app "$(PY) app.py" --quiet

deploy: $(STAMP)
	@test -n "$(REGION)" || { echo "usage: make deploy REGION=ca-central-1" >&2; exit 2; }
	npx --yes aws-cdk@2 deploy --app "$(PY) app.py" "Text311-$(REGION)"

destroy: $(STAMP)
	@test -n "$(REGION)" || { echo "usage: make destroy REGION=ca-central-1" >&2; exit 2; }
	npx --yes aws-cdk@2 destroy --app "$(PY) app.py" "Text311-$(REGION)"

bench: $(STAMP)
	$(PY) bench/resolver.py
	$(PY) bench/replies.py
	$(PY) bench/outbound.py

directory: $(STAMP)
	$(PY) scripts/build_directory.py

clean:
	rm -rf cdk.out .pytest_cache
