# ecs-deployer: every target installs what it needs into .venv (Python tools, cargo-lambda).
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: tools test demo fmt clippy

include infra/infra.mk

tools: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

## Every test: the infra checks, then unit, scenario, against moto, and through the Lambda runtime emulator.
test: tools lint-infra
	cargo test --workspace --locked

## Deploys v2 to a local AWS (moto) through `cargo lambda watch`, then repeats it.
demo: tools
	cargo run --quiet --locked -p deployer-tests --bin demo

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings
