#!/usr/bin/env bash
# Create (or reuse) the interop venv at <repo>/target/interop-venv with the
# pins from interop/requirements.txt.
#
# Usage: bash interop/setup.sh        (from any directory)
# Env:   INTEROP_PYTHON=/path/to/python3.11   interpreter to build the venv with
#
# Idempotent: a copy of requirements.txt is kept in the venv once the install
# succeeded; while it matches and the venv imports, nothing is reinstalled.
# Any mismatch (or a half-built venv) rebuilds the venv from scratch.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REQ="$ROOT/interop/requirements.txt"
VENV="$ROOT/target/interop-venv"
STAMP="$VENV/.interop-requirements.txt"
# A venv keeps its interpreter in bin/, or in Scripts/ on Windows.
venv_python() {
    if [[ -e "$VENV/Scripts/python.exe" ]]; then echo "$VENV/Scripts/python.exe"; else echo "$VENV/bin/python"; fi
}
PY="${INTEROP_PYTHON:-python3}"
# Cheap health check (importing mcp itself costs ~1 s).
CHECK='import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in ("mcp", "jwt", "httpx")))'

die() { echo "interop setup: error: $*" >&2; exit 1; }

[[ -f "$REQ" ]] || die "missing $REQ"
mkdir -p "$ROOT/target"

# Serialise concurrent runs (e.g. several cargo tests calling this at once).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/target/interop-venv.lock"
    flock 9
fi

if [[ -f "$STAMP" ]] && cmp -s "$REQ" "$STAMP" \
    && "$(venv_python)" -c "$CHECK" >/dev/null 2>&1; then
    echo "interop venv up to date: $VENV"
    exit 0
fi

command -v "$PY" >/dev/null 2>&1 || die "'$PY' not found; install Python 3.11+ or set INTEROP_PYTHON"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "$("$PY" -V 2>&1) is too old: the interop scripts need Python 3.11+ (set INTEROP_PYTHON)"

echo "interop setup: building $VENV with $("$PY" -V 2>&1)"
rm -rf "$VENV"
"$PY" -m venv "$VENV" \
    || die "'$PY -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
VPY="$(venv_python)"
"$VPY" -m pip install --quiet --disable-pip-version-check --no-input -r "$REQ" \
    || die "pip install -r $REQ failed (is PyPI reachable?)"
"$VPY" -c 'import mcp, jwt, httpx' \
    || die "the venv was installed but cannot import mcp/jwt/httpx"
cp "$REQ" "$STAMP"
echo "interop setup: installed $("$VPY" -m pip freeze --disable-pip-version-check | grep -iE '^(mcp|pyjwt|httpx)==' | paste -sd' ')"
