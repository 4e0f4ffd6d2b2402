#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image
# (Ubuntu). The kit is in /autograder/source (the zip made by make-zip.sh).
# Everything slow happens here, so that each submission only compiles the
# student's lab crate: Rust, the checks, and every lab's dependencies.
#
# AUTOGRADER (default /autograder) and STUDENT_USER (default student) let the
# test suite run this script in a folder shaped like Gradescope's.
set -euo pipefail
AUTOGRADER="${AUTOGRADER:-/autograder}"
STUDENT_USER="${STUDENT_USER:-student}"

# The toolchain the kit is tested with; override when you update the kit.
RUST_VERSION="${RUST_VERSION:-1.95.0}"

if ! command -v cargo >/dev/null 2>&1 && [ ! -f "$HOME/.cargo/env" ]; then
    apt-get update
    apt-get install -y --no-install-recommends ca-certificates curl build-essential pkg-config
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
        sh -s -- -y --profile minimal --default-toolchain "$RUST_VERSION"
fi
if [ -f "$HOME/.cargo/env" ]; then
    # shellcheck source=/dev/null
    source "$HOME/.cargo/env"
fi

# The user the students' programs run as (run_autograder): it cannot write
# the kit, the results or anything else root owns.
if ! id "$STUDENT_USER" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$STUDENT_USER"
fi

cd "$AUTOGRADER/source"
# --locked: the zip's Cargo.lock is the kit's, as built and tested
# (make-zip.sh keeps every workspace member, so cargo has nothing to change).
cargo build --locked -p xtask -p checks

# The assignment's lab (make-zip.sh sets it, as in run_autograder).
LAB="${LAB:-lab1}"

# Grade the kit's own starter once: that builds the grading workspace
# (target/grade/) with the lab's dependencies, into the image.
cargo xtask gradescope --lab "$LAB" \
    --submission "$AUTOGRADER/source" \
    --results /tmp/warm-up-results.json
