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

.PHONY: run test lint synth deploy destroy smoke bench directory clean

$(STAMP): requirements.txt requirements-powertools.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

# exec: the shell make starts is replaced by the run, so the SIGTERM make forwards reaches it.
run: $(STAMP)
	PORT=$(PORT) DATA_DIR=$(DATA_DIR) exec bash scripts/run-local.sh

test: $(STAMP)
	bash scripts/e2e-deps.sh
	$(PY) -m ruff check .
	$(PY) -m mypy layers/core/python/text311
	$(PY) -m pytest -n auto --dist loadgroup  # a worker per CPU; the soak, e2e and infra groups one worker each

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy layers/core/python/text311

synth: $(STAMP)
	npx --yes aws-cdk@2 synth --app "$(PY) app.py" --quiet

deploy: $(STAMP)
	@test -n "$(REGION)" || { echo "usage: make deploy REGION=ca-central-1" >&2; exit 2; }
	npx --yes aws-cdk@2 deploy --app "$(PY) app.py" "Text311-*$(REGION)"

destroy: $(STAMP)
	@test -n "$(REGION)" || { echo "usage: make destroy REGION=ca-central-1" >&2; exit 2; }
	@echo "Destroying Text311-$(REGION) (and Text311-mail-$(REGION) if SES receives elsewhere)."
	@echo "RETAINED, by design (they hold residents' and agents' data; docs/deploy.md, 'Destroy'):"
	@echo "  DynamoDB tables subscribers, residents, conversations, messages (deletion protection on);"
	@echo "  S3 RawMailBucket and AccessLogBucket (and the mail stack's RelayBucket); the console's user pool;"
	@echo "  the KMS keys DataKey, PhoneKey (and MailKey) and the secrets ReplyTokenKeys, PhoneHashKey;"
	@echo "  the SMS phone number the stack bought (deletion protection on) and its opt-out list text311."
	@echo "Delete them by hand, after the retention period, if the region is closed for good."
	npx --yes aws-cdk@2 destroy --app "$(PY) app.py" "Text311-*$(REGION)"

# One synthetic resident text through a deployed region, hop by hop, then clean-up (scripts/smoke.py).
# SMOKE_FROM: the test number; SMOKE_TO: our number; SMOKE_CITY / SMOKE_CITY_NAME: the test municipality
# (its inbox a DevOps address). Sends one real mail to that inbox; publishes on the inbound topic only.
smoke: $(STAMP)
	@test -n "$(REGION)" || { echo "usage: make smoke REGION=ca-central-1 SMOKE_FROM=+1… SMOKE_TO=+1… SMOKE_CITY=<geonameid> SMOKE_CITY_NAME=<name>" >&2; exit 2; }
	$(PY) scripts/smoke.py --region "$(REGION)" --from "$(SMOKE_FROM)" --to "$(SMOKE_TO)" \
		--municipality "$(SMOKE_CITY)" --municipality-name "$(SMOKE_CITY_NAME)" --timeout "$(or $(SMOKE_TIMEOUT),120)"

bench: $(STAMP)
	$(PY) bench/resolver.py
	$(PY) bench/replies.py
	$(PY) bench/outbound.py
	$(PY) bench/coldstart.py
	$(PY) bench/throughput.py
	$(PY) bench/languages.py
	$(PY) bench/service_requests.py

directory: $(STAMP)
	$(PY) scripts/build_directory.py

clean:
	rm -rf cdk.out .pytest_cache
