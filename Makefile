# ecs-deployer: every target installs what it needs into .venv (Python tools, cargo-lambda).
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: tools test demo bench package fmt clippy

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

## Release build, then the benchmark; rewrites docs/BENCHMARKS.md and docs/fanout.svg. `--compiler cargo`
## builds with the host toolchain (no Zig needed): the bench runs the binary here, not in Lambda.
bench: tools
	cargo lambda build --release --compiler cargo --locked --package deployer --bin deployer --output-format zip
	cargo run --quiet --locked -p deployer-tests --bin bench -- --write docs/BENCHMARKS.md

## The deployable zips for Lambda on arm64 (target/lambda/<function>/bootstrap.zip). cargo-lambda adds the
## aarch64 rustup target on first use, which needs the Rust distribution server.
$(VENV)/.package-installed: requirements-package.txt | tools
	$(VENV)/bin/pip install --quiet -r requirements-package.txt
	touch $@

package: tools $(VENV)/.package-installed
	cargo lambda build --release --arm64 --locked --package deployer --package front --output-format zip
	@ls -l target/lambda/*/bootstrap.zip

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings
