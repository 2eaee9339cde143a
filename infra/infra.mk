# Infrastructure checks, included from the top-level Makefile (which defines VENV, puts $(VENV)/bin on PATH
# and has the `tools` target that creates the venv).
.PHONY: lint-infra

INFRA_TEMPLATE := infra/template.yaml

$(VENV)/.infra-installed: infra/requirements.txt
	test -x $(VENV)/bin/pip || python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet -r infra/requirements.txt
	touch $@

## Lints the SAM template (cfn-lint, checkov) and proves its IAM policy is least-privilege.
# checkov: --skip-download keeps it offline (no Prisma Cloud metadata fetch); CKV_SKIP_PACKAGE_UPDATE_CHECK
# stops its PyPI version check. Skipped checks carry their reason in the template's Metadata.
lint-infra: $(VENV)/.infra-installed
	$(VENV)/bin/cfn-lint --include-checks I -- $(INFRA_TEMPLATE)
	CKV_SKIP_PACKAGE_UPDATE_CHECK=true $(VENV)/bin/checkov -f $(INFRA_TEMPLATE) --framework cloudformation \
		--quiet --compact --skip-download
	$(VENV)/bin/python infra/check_policy.py --self-test $(INFRA_TEMPLATE)
	$(VENV)/bin/python infra/check_policy.py $(INFRA_TEMPLATE)
