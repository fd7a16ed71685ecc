# The README's two commands are `make demo` and `make test`; both build .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test test-fast lint bench clean policy package screenshot checkov

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/setpoint demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint package checkov
	$(BIN)/pytest

# The inner loop: every unit and functional test, without lint, packaging (chalice package +
# cfn-lint) or the end-to-end tests against a moto HTTP server. `make test` stays the gate.
test-fast: $(STAMP)
	$(BIN)/pytest -m "not e2e" --ignore=tests/e2e --ignore=tests/deploy/test_package.py \
		--ignore=tests/deploy/test_deploy_examples.py

# The Lambda's IAM policy for every stage, from the families' and the runtime's call tables,
# and the top spec schema's kind list, from the registry. `make policy REVERT_SPECS=policies`
# narrows the revert role's writes to the resources of the specs that opt in (docs/revert.md).
policy: $(STAMP)
	$(BIN)/python -m chalicelib.deploy.policy $(if $(REVERT_SPECS),--revert-specs $(REVERT_SPECS))
	$(BIN)/python -m chalicelib.specs.top_schema

# The deployable CloudFormation template (SAM) for prod, with the infrastructure Chalice does
# not create merged in, then linted. Output under build/ (ignored by git).
PACKAGE_DIR := build/package
package: $(STAMP)
	rm -rf $(PACKAGE_DIR)
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} $(BIN)/chalice package --stage prod \
		--merge-template infra/setpoint.yaml $(PACKAGE_DIR)
	$(BIN)/python -m chalicelib.deploy.finish $(PACKAGE_DIR)/sam.yaml
	$(BIN)/cfn-lint $(PACKAGE_DIR)/sam.yaml infra/member-account.yaml

# checkov over the packaged template and the member template. It pins boto3, packaging and
# networkx below what the project uses, so it lives in a venv of its own. A check that does
# not fit is skipped on the resource with its reason (chalicelib/deploy/checkov_skips.py,
# infra/setpoint.yaml), never here; any other failure fails `make test`.
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
$(CHECKOV_STAMP): requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $(CHECKOV_STAMP)

checkov: package $(CHECKOV_STAMP)
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov --quiet --compact --skip-download \
		--framework cloudformation -f $(PACKAGE_DIR)/sam.yaml -f infra/member-account.yaml

# make bench BENCH_10K=1 adds the sweep's S=10,000 row (the check alone; about 10 more minutes)
bench: $(STAMP)
	$(BIN)/python benchmarks/bench_events.py --output docs/performance.md
	$(BIN)/python benchmarks/bench_sweep.py --output docs/performance.md $(if $(BENCH_10K),--with-10k)
	$(BIN)/python benchmarks/bench_terraform.py --output docs/performance.md

# docs/img/report.png: the demo estate's sweep report in headless Chromium (needs the
# Debian packages chromium and chromium-driver; .ci/run installs them). Prints the alerts.
screenshot: $(STAMP)
	$(BIN)/python -m tools.report_screenshot --output docs/img/report.png

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info build
