#!/usr/bin/env bash
# Builds autograder.zip for a Gradescope "programming assignment": the kit
# as committed (without solutions/: student code runs in the same container
# and could read them), plus setup.sh and run_autograder at the zip's root.
#
# usage: docs/gradescope/make-zip.sh [LAB]   (LAB defaults to lab1)
set -euo pipefail
cd "$(dirname "$0")/../.."
lab="${1:-lab1}"
out="$PWD/target/autograder-$lab.zip"
mkdir -p target
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

git archive HEAD | tar -x -C "$stage"
rm -rf "$stage/solutions" "$stage/tests/fixtures"
# Cargo refuses a workspace member glob that matches nothing.
sed -i '/^ *"solutions\/\*",$/d' "$stage/Cargo.toml"
if grep -q 'solutions/' "$stage/Cargo.toml"; then
    echo "make-zip.sh: could not drop solutions/ from the workspace members in Cargo.toml" >&2
    exit 1
fi
for script in setup.sh run_autograder; do
    sed "s/^LAB=.*/LAB=\"\${LAB:-$lab}\"/" "docs/gradescope/$script" >"$stage/$script"
done
chmod +x "$stage/setup.sh" "$stage/run_autograder"
rm -f "$out"
(cd "$stage" && zip -qr "$out" .)
echo "wrote $out"
