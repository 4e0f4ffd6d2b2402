#!/usr/bin/env bash
# Builds autograder.zip for a Gradescope "programming assignment": the kit
# as committed, without the reference answers (student code runs in the same
# container and could read them), plus setup.sh and run_autograder at the
# zip's root.
#
# usage: docs/gradescope/make-zip.sh [--allow-dirty | --worktree] [LAB]
#        LAB defaults to lab1; OUT=path.zip writes elsewhere than
#        target/autograder-LAB.zip.
#        The zip is made from HEAD, so a checkout with uncommitted changes is
#        refused: commit them, or pass --allow-dirty to zip HEAD as it is, or
#        --worktree to zip the files as they are now, committed or not (the
#        test suite does, to try what it is testing).
set -euo pipefail
cd "$(dirname "$0")/../.."
from=head
case "${1:-}" in
--allow-dirty) from=head-dirty && shift ;;
--worktree) from=worktree && shift ;;
esac
lab="${1:-lab1}"
if [ "$from" = head ] && [ -n "$(git status --porcelain)" ]; then
    echo "make-zip.sh: the checkout has uncommitted changes, and the zip is made from HEAD without them:" >&2
    git status --short >&2
    echo "make-zip.sh: commit them (or pass --allow-dirty to zip HEAD as it is)" >&2
    exit 1
fi
out="${OUT:-$PWD/target/autograder-$lab.zip}"
mkdir -p target "$(dirname "$out")"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

if [ "$from" = worktree ]; then
    # Tracked and new files, as they are; ignored ones (target/) and
    # deleted ones are not.
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' file; do
            if [ -f "$file" ]; then printf '%s\0' "$file"; fi
        done |
        tar --null -T - -cf - | tar -x -C "$stage"
else
    git archive HEAD | tar -x -C "$stage"
fi
# The fixtures hold copies of the reference solutions (the fixture class, the
# planted mistakes); grading never reads them.
rm -rf "$stage/tests/fixtures"
# Each solution becomes a copy of its starter under the solution's own
# Cargo.toml: the answers are gone, while the workspace members and Cargo.lock
# stay the kit's, byte for byte. So setup.sh builds with --locked, and a
# student's untouched clone matches this copy (no false "kit files differ").
for solution in "$stage"/solutions/*/; do
    name="$(basename "$solution")"
    starter="$stage/labs/$name"
    if [ ! -d "$starter" ]; then
        echo "make-zip.sh: solutions/$name has no starter labs/$name to stand in for it" >&2
        exit 1
    fi
    find "$solution" -mindepth 1 -maxdepth 1 ! -name Cargo.toml -exec rm -rf {} +
    find "$starter" -mindepth 1 -maxdepth 1 ! -name Cargo.toml -exec cp -R {} "$solution" \;
    if ! diff -r -x Cargo.toml "$starter" "$solution" >/dev/null; then
        echo "make-zip.sh: could not replace solutions/$name with its starter" >&2
        exit 1
    fi
done
for script in setup.sh run_autograder; do
    sed "s/^LAB=.*/LAB=\"\${LAB:-$lab}\"/" "docs/gradescope/$script" >"$stage/$script"
done
chmod +x "$stage/setup.sh" "$stage/run_autograder"
rm -f "$out"
(cd "$stage" && zip -qr "$out" .)
echo "wrote $out"
