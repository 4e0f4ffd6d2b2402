#!/usr/bin/env bash
# Measures every lab's warm `cargo xtask check labN`, as a student runs it:
#   - no change: the lab and the checks are already built;
#   - one-line edit: a comment appended to the lab's first student file
#     (cargo rebuilds the lab), removed again afterwards.
# Each is the median of RUNS runs (default 3). Prints a Markdown table,
# the one kept in docs/speed.md. Your progress file is not touched.
# With --solution it measures the reference solutions instead (a finished
# lab: every check runs to the end), editing solutions/ the same way.
#
# Usage: bash scripts/measure-checks.sh [--solution] [RUNS]
# Measure on an otherwise idle machine: anything else compiling shows up.
set -euo pipefail
cd "$(dirname "$0")/.."
KIND=labs
FLAG=()
if [[ "${1:-}" == "--solution" ]]; then KIND=solutions; FLAG=(--solution); shift; fi
RUNS="${1:-3}"

# Labs, slugs and first student files, in catalogue order, from labs.toml
# (the first `id`, `slug` and `student_files` after each `[[labs]]`).
mapfile -t LABS < <(awk '
    /^\[\[labs\]\]/ { lab = 1; id = ""; slug = ""; next }
    /^\[\[/ { lab = 0 }
    lab && /^id = /            && id == ""   { id = $3; gsub(/"/, "", id) }
    lab && /^slug = /          && slug == "" { slug = $3; gsub(/"/, "", slug) }
    lab && /^student_files = / { match($0, /"[^"]+"/); file = substr($0, RSTART + 1, RLENGTH - 2)
                                 print id " " id "-" slug "/" file }
' labs.toml)

now() {
    if [[ -n "${EPOCHREALTIME:-}" ]]; then echo "${EPOCHREALTIME/,/.}"
    else python3 -c 'import time; print(time.time())'; fi
}

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

PROGRESS="$(mktemp)"
BACKUP="$(mktemp)"
EDITED=""
cleanup() {
    [[ -n "$EDITED" ]] && cp "$BACKUP" "$EDITED"
    rm -f "$PROGRESS" "$BACKUP"
}
trap cleanup EXIT

# One timed check; prints seconds, keeps the last result line in $RESULT.
timed_check() {
    local start end out
    start="$(now)"
    out="$(XTASK_PROGRESS="$PROGRESS" CI=true cargo xtask check "$1" "${FLAG[@]}" 2>&1 || true)"
    end="$(now)"
    RESULT="$(grep -E 'checks passed' <<<"$out" | tail -n 1 | cut -d' ' -f1)"
    awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

echo "| lab | checks passed ($KIND/) | no change (s) | after a one-line edit (s) |"
echo "|---|---|---|---|"
for entry in "${LABS[@]}"; do
    read -r lab file <<<"$entry"
    file="$KIND/$file"
    timed_check "$lab" >/dev/null   # warm: build the lab and the checks
    same="$(for _ in $(seq "$RUNS"); do timed_check "$lab"; done | median)"
    cp "$file" "$BACKUP"
    EDITED="$file"
    edited="$(for i in $(seq "$RUNS"); do
        echo "// measure-checks.sh edit $i" >>"$file"
        timed_check "$lab"
        cp "$BACKUP" "$file"
    done | median)"
    EDITED=""
    # Leave the lab built as it is now, for whoever checks it next.
    timed_check "$lab" >/dev/null
    echo "| $lab | $RESULT | $same | $edited |"
done
