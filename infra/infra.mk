# Infrastructure checks and deployment, included from the top-level Makefile (which defines VENV, puts
# $(VENV)/bin on PATH and has the `tools` target that creates the venv with cargo-lambda; `make package` adds Zig).
.PHONY: lint-infra deploy build-FrontFunction

INFRA_TEMPLATE := infra/template.yaml

# A venv of their own: checkov pins boto3 1.35, whose botocore models lack the ECS and CodeDeploy fields the
# local AWS (moto, in .venv) serializes its answers from.
INFRA_VENV := .venv-infra

$(INFRA_VENV)/.installed: infra/requirements.txt
	test -x $(INFRA_VENV)/bin/pip || python3 -m venv $(INFRA_VENV)
	$(INFRA_VENV)/bin/pip install --quiet -r infra/requirements.txt
	touch $@

## Lints the SAM template (cfn-lint, checkov) and proves both roles' IAM policies are least-privilege.
# checkov: --skip-download keeps it offline (no Prisma Cloud metadata fetch); CKV_SKIP_PACKAGE_UPDATE_CHECK
# stops its PyPI version check. Skipped checks carry their reason in the template's Metadata.
lint-infra: $(INFRA_VENV)/.installed
	$(INFRA_VENV)/bin/cfn-lint --include-checks I -- $(INFRA_TEMPLATE)
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(INFRA_VENV)/bin/checkov -f $(INFRA_TEMPLATE) --framework cloudformation \
		--quiet --compact --skip-download
	$(INFRA_VENV)/bin/python infra/check_policy.py --self-test $(INFRA_TEMPLATE)
	$(INFRA_VENV)/bin/python infra/check_policy.py $(INFRA_TEMPLATE)

## Builds both functions (sam build: cargo-lambda, cross-compiled for arm64 with Zig) and deploys the stack.
# The first time (no parameter_overrides in infra/samconfig.toml yet) it runs `sam deploy --guided`, which
# asks for the parameters and saves them; GUIDED=1 forces that again. The SAM CLI is not installed here:
# see the README's "Deploying" section.
SAM ?= sam
deploy: tools $(VENV)/.package-installed
	@command -v $(SAM) > /dev/null || { echo "the AWS SAM CLI ($(SAM)) is not on PATH; install it first" >&2; exit 1; }
	cd infra && $(SAM) build
	cd infra && $(SAM) deploy $(if $(or $(GUIDED),$(shell grep -q '^parameter_overrides' infra/samconfig.toml || echo first)),--guided)

## `sam build` of the front door (template.yaml: BuildMethod makefile, in source): its release-front profile,
## whose panics unwind, cross-compiled for arm64 as `make package` does. SAM sets ARTIFACTS_DIR.
build-FrontFunction: tools $(VENV)/.package-installed
	cargo lambda build --profile release-front --arm64 --locked --package front --output-format binary
	cp target/lambda/front/bootstrap $(ARTIFACTS_DIR)/bootstrap
