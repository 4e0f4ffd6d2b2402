#!/usr/bin/env bash
# Create (or reuse) the two pinned interop venvs:
#   <repo>/target/interop-venv       from interop/requirements.txt       (mcp 1.x, the course's API)
#   <repo>/target/interop-venv-mcp2  from interop/requirements-mcp2.txt  (mcp 2.x)
#
# Usage: bash interop/setup.sh        (from any directory)
# Env:   INTEROP_PYTHON=/path/to/python3.11   interpreter to build the venvs with
#
# Idempotent: a copy of its requirements file is kept in each venv once the
# install succeeded; while it matches and the venv imports, nothing is
# reinstalled. Any mismatch (or a half-built venv) rebuilds that venv from
# scratch; the other one is left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${INTEROP_PYTHON:-python3}"

die() { echo "interop setup: error: $*" >&2; exit 1; }

# A venv keeps its interpreter in bin/, or in Scripts/ on Windows.
venv_python() {
    if [[ -e "$1/Scripts/python.exe" ]]; then echo "$1/Scripts/python.exe"; else echo "$1/bin/python"; fi
}

# Checked once, and only when a venv has to be (re)built.
PY_CHECKED=""
check_python() {
    [[ -n "$PY_CHECKED" ]] && return 0
    command -v "$PY" >/dev/null 2>&1 || die "'$PY' not found; install Python 3.11+ or set INTEROP_PYTHON"
    "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$("$PY" -V 2>&1) is too old: the interop scripts need Python 3.11+ (set INTEROP_PYTHON)"
    PY_CHECKED=1
}

# ensure_venv VENV REQ MODULES FREEZE_PATTERN
#   MODULES: the import names the scripts need, comma-separated (a, b, c)
#   FREEZE_PATTERN: which `pip freeze` lines to report once installed
ensure_venv() {
    local venv="$1" req="$2" modules="$3" pattern="$4"
    local stamp="$venv/.interop-requirements.txt"
    local names
    names="$(printf '"%s", ' ${modules//,/ })"
    # Cheap health check (importing mcp itself costs ~1 s).
    local check="import importlib.util as u, sys; sys.exit(any(u.find_spec(m) is None for m in (${names})))"

    [[ -f "$req" ]] || die "missing $req"
    if [[ -f "$stamp" ]] && cmp -s "$req" "$stamp" \
        && "$(venv_python "$venv")" -c "$check" >/dev/null 2>&1; then
        echo "interop venv up to date: $venv"
        return 0
    fi

    check_python
    echo "interop setup: building $venv with $("$PY" -V 2>&1)"
    rm -rf "$venv"
    "$PY" -m venv "$venv" \
        || die "'$PY -m venv' failed (on Debian/Ubuntu: apt-get install python3-venv)"
    local vpy
    vpy="$(venv_python "$venv")"
    "$vpy" -m pip install --quiet --disable-pip-version-check --no-input -r "$req" \
        || die "pip install -r $req failed (is PyPI reachable?)"
    "$vpy" -c "import ${modules//,/, }" \
        || die "$venv was installed but cannot import ${modules//,/\/}"
    cp "$req" "$stamp"
    echo "interop setup: installed $("$vpy" -m pip freeze --disable-pip-version-check | grep -iE "^(${pattern})==" | paste -sd' ')"
}

mkdir -p "$ROOT/target"

# Serialise concurrent runs (e.g. several cargo tests calling this at once).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/target/interop-venv.lock"
    flock 9
fi

ensure_venv "$ROOT/target/interop-venv" "$ROOT/interop/requirements.txt" \
    "mcp,jwt,httpx" "mcp|pyjwt|httpx"
ensure_venv "$ROOT/target/interop-venv-mcp2" "$ROOT/interop/requirements-mcp2.txt" \
    "mcp,httpx2" "mcp|mcp-types|httpx2"
