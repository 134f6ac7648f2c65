#!/usr/bin/env bash
# Runs the loom models of the channel core (aleph/tests/loom_channel.rs):
#
#     ./scripts/loom.sh                 # every model
#     ./scripts/loom.sh a_send_meets    # the models whose name matches
#     LOOM_MAX_PREEMPTIONS=4 ./scripts/loom.sh   # explore deeper (slower)
#
# Loom needs `--cfg loom` on the crates whose synchronisation it must see:
# aleph (its stream core switches to loom's atomics and lock, see
# aleph/src/stream/wait.rs) and concurrent-queue (its ring).
# It cannot be given to every crate (RUSTFLAGS="--cfg loom"): tokio compiles
# its networking out under that cfg, and aleph needs it. So this script runs
# cargo with itself as RUSTC_WRAPPER, adding the cfg to those crates only,
# in a target dir of its own so the normal build is not rebuilt.
set -euo pipefail

if [[ "${ALEPH_LOOM_WRAPPER:-}" == 1 ]]; then
    rustc="$1"
    shift
    crate=""
    prev=""
    for arg in "$@"; do
        [[ "$prev" == "--crate-name" ]] && crate="$arg"
        prev="$arg"
    done
    case "$crate" in
        # `___` is cargo asking rustc which cfgs hold: it then resolves the
        # `cfg(loom)` dependencies (loom itself, and the loom features).
        aleph | loom_channel | concurrent_queue | ___)
            exec "$rustc" "$@" --cfg loom ;;
        *) exec "$rustc" "$@" ;;
    esac
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export ALEPH_LOOM_WRAPPER=1
export RUSTC_WRAPPER="$here/loom.sh"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../target/loom}"
exec cargo test -p aleph --test loom_channel --release -- "$@"
