#!/usr/bin/env bash
# Every check CI runs, in order: test peers, formatting, lints, build (the benchmarks are
# built, never run), the test suite, doctests, and docs with warnings denied.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
    local name="$1"
    shift
    echo
    echo "==> $name"
    echo "    \$ $*"
    local start=$SECONDS
    if ! "$@"; then
        echo "<== $name: FAILED after $((SECONDS - start))s" >&2
        exit 1
    fi
    echo "<== $name: ok in $((SECONDS - start))s"
}

total_start=$SECONDS

step "test peers" scripts/install-test-peers.sh
step "format" cargo fmt --all -- --check
step "clippy" cargo clippy --workspace --all-targets --all-features -- -D warnings
step "build" cargo build --workspace --all-targets
if cargo nextest --version >/dev/null 2>&1; then
    step "tests (nextest)" cargo nextest run --workspace --all-features
else
    step "tests" cargo test --workspace --all-features
fi
# nextest does not run doctests, so they always get their own step.
step "doctests" cargo test --workspace --doc --all-features
step "docs" env RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --all-features

echo
echo "all checks passed in $((SECONDS - total_start))s"
