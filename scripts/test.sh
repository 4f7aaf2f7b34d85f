#!/usr/bin/env bash
# latlab's whole test suite, from a fresh Linux machine with only the Rust toolchain.
# Installs the system packages the tests need (scripts/test-deps.sh), then runs the format
# check, clippy on every target, every test, and compiles the benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/test-deps.sh
# Tests that need an external tool fail rather than skip when it is missing here.
export LATLAB_REQUIRE_TOOLS=1

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast
echo "== cargo bench --no-run"
cargo bench --workspace --locked --no-run
echo "== all tests passed"
