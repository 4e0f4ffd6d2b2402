#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image
# (Ubuntu). The kit is in /autograder/source (the zip made by make-zip.sh).
# Everything slow happens here, so that each submission only compiles the
# student's lab crate: Rust, the checks, and every lab's dependencies.
set -euo pipefail

# The toolchain the kit is tested with; override when you update the kit.
RUST_VERSION="${RUST_VERSION:-1.95.0}"

apt-get update
apt-get install -y --no-install-recommends ca-certificates curl build-essential pkg-config

curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs |
    sh -s -- -y --profile minimal --default-toolchain "$RUST_VERSION"
# shellcheck source=/dev/null
source "$HOME/.cargo/env"

cd /autograder/source
# Not --locked: make-zip.sh leaves solutions/ out, so cargo drops their
# entries from Cargo.lock; every version stays the one the kit pins.
cargo build -p xtask -p checks

# The assignment's lab (make-zip.sh sets it, as in run_autograder).
LAB="${LAB:-lab1}"

# Grade the kit's own starter once: that builds the grading workspace
# (target/grade/) with the lab's dependencies, into the image.
cargo xtask gradescope --lab "$LAB" \
    --submission /autograder/source \
    --results /tmp/warm-up-results.json
