# ecs-deployer: every target installs what it needs into .venv (Python tools, cargo-lambda).
SHELL := /bin/bash
VENV := .venv
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: tools test test-release test-local-aws local-aws demo bench package fmt clippy fuzz

include infra/infra.mk

tools: $(VENV)/.installed

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

## Every test: the infra checks, the local AWS's own tests, then unit, scenario, against the local AWS, and
## through the Lambda runtime emulator. The function binaries are built first, once, as `cargo lambda watch`
## builds them (every workspace member's features, no dev-dependencies), so the emulator in the tests starts
## them without compiling; the debug front is also what tests/it/release.rs runs (`make test-release`: the
## release build). The integration tests (one binary, tests/it) mostly wait on processes: TEST_THREADS.
TEST_THREADS ?= 4
## Test threads get the main thread's stack size (RUST_MIN_STACK in .cargo/config.toml, which says why).
test: tools lint-infra test-local-aws
	cargo build --workspace --bins --locked
	cargo test --workspace --locked -- --test-threads $(TEST_THREADS)

## The front's release build (profile release-front as `make package` builds it, but for this machine:
## `--compiler cargo`, no Zig), then tests/it/release.rs on that binary. Not in `make test`: fat LTO with one
## codegen unit takes about 4 minutes on 2 cores.
test-release: tools
	cargo lambda build --profile release-front --compiler cargo --locked --package front --output-format binary
	FRONT_BINARY=$(CURDIR)/target/lambda/front/bootstrap cargo test --locked -p deployer-tests --test it release::

## The local AWS (moto with rollouts that live, tests/localaws) in the foreground on 127.0.0.1 until stopped.
## LOCAL_AWS_TICK (s per step), LOCAL_AWS_MINUTE (s per API minute), LOCAL_AWS_LAMBDA_ENDPOINT: see README.
LOCAL_AWS_PORT ?= 4566
local-aws: tools
	LOCAL_AWS_PORT=$(LOCAL_AWS_PORT) PYTHONPATH=tests $(VENV)/bin/python -m localaws

## The local AWS's own tests (pytest + boto3, each against a server it starts on a free port).
test-local-aws: tools
	PYTHONPATH=tests $(VENV)/bin/python -m pytest -p no:cacheprovider -q tests/localaws/tests

## Deploys v2 to the local AWS through `cargo lambda watch` (deployer and hook, one emulator), repeats it
## (already deployed), deploys a broken version that the deployer follows and rolls back, then deploys v3 as
## an ECS-native canary (events/deploy-canary.json) whose POST_TEST_TRAFFIC_SHIFT hook, functions/hook,
## checks a local test listener before traffic goes 10 % -> 100 % and the deployment is SUCCESSFUL.
demo: tools
	cargo run --quiet --locked -p deployer-tests --bin demo

## Release builds of the three functions, then the benchmark; rewrites docs/BENCHMARKS.md and docs/fanout.svg. `--compiler cargo`
## builds with the host toolchain (no Zig needed): the bench runs the binary here, not in Lambda.
bench: tools
	cargo lambda build --release --compiler cargo --locked --package deployer --bin deployer --output-format zip
	cargo lambda build --profile release-front --compiler cargo --locked --package front --output-format zip
	cargo lambda build --release --compiler cargo --locked --package hook --bin hook --output-format zip
	cargo run --quiet --locked -p deployer-tests --bin bench -- --write docs/BENCHMARKS.md

## The deployable zips for Lambda on arm64 (target/lambda/<function>/bootstrap.zip) of the three functions. cargo-lambda adds the
## aarch64 rustup target on first use, which needs the Rust distribution server.
$(VENV)/.package-installed: requirements-package.txt | tools
	$(VENV)/bin/pip install --quiet -r requirements-package.txt
	touch $@

## The front is built with its own profile, release-front (the release profile, but panics unwind: see
## Cargo.toml); cargo takes `panic` per profile only.
package: tools $(VENV)/.package-installed
	cargo lambda build --release --arm64 --locked --package deployer --output-format zip
	cargo lambda build --profile release-front --arm64 --locked --package front --output-format zip
	cargo lambda build --release --arm64 --locked --package hook --bin hook --output-format zip
	@ls -l target/lambda/*/bootstrap.zip

fmt:
	cargo fmt --all

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings

## Every fuzz target in fuzz/fuzz_targets for FUZZ_RUNS executions each (docs/SECURITY.md has the figures).
## Installs cargo-fuzz from crates.io when it is missing. cargo-fuzz wants nightly flags: RUSTC_BOOTSTRAP=1
## allows them on the stable toolchain, and `-s none` leaves out the sanitizer (it needs a nightly std).
## New inputs go to fuzz/corpus/<target> (not committed), a crash to fuzz/artifacts/<target>; the committed
## seeds are in fuzz/seeds/<target>. Never part of `make test`.
FUZZ_RUNS ?= 10000000
FUZZ_TARGETS ?= $(notdir $(basename $(wildcard fuzz/fuzz_targets/*.rs)))
fuzz:
	@command -v cargo-fuzz > /dev/null || cargo install cargo-fuzz --locked
	@for target in $(FUZZ_TARGETS); do \
		mkdir -p fuzz/corpus/$$target fuzz/seeds/$$target; \
		echo "== $$target: $(FUZZ_RUNS) runs"; \
		start=$$(date +%s); \
		RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz -s none $$target \
			fuzz/corpus/$$target fuzz/seeds/$$target -- -runs=$(FUZZ_RUNS) -print_final_stats=1 \
			2> fuzz/$$target.log || { tail -n 40 fuzz/$$target.log; exit 1; }; \
		grep -E "stat::number_of_executed_units|Done [0-9]+ runs" fuzz/$$target.log; \
		echo "   $$(( $$(date +%s) - start )) s"; \
	done
