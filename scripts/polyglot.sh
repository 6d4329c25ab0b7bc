#!/usr/bin/env bash
# Builds the JavaScript and Python example tools of examples/polyglot/ into OUTDIR:
#
#   slugify-js.wasm  slugify-py.wasm   the `slugify` tool (world libos:runtime/tool), no WASI
#   fetch-js.wasm    fetch-py.wasm     one HTTP GET (world `fetch`), default toolchain options
#   agent-js.wasm                      an agent (world libos:runtime/agent) importing WASI
#
# Usage: scripts/polyglot.sh OUTDIR
#
# Installs the pinned toolchains into the checkout first if they are missing or stale
# (examples/polyglot/node_modules from package-lock.json, examples/polyglot/.venv from
# requirements.txt). Rebuilds a component only when its inputs (sources, WIT, lock file) changed:
# OUTDIR/NAME.wasm.inputs holds their hash. Concurrent runs wait for each other (flock).
# Needs node, npm and python3 (with venv).
set -euo pipefail

say() { echo "polyglot: $*" >&2; }
die() { say "error: $*"; exit 1; }

[[ $# -eq 1 ]] || { echo "usage: scripts/polyglot.sh OUTDIR" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
poly=$root/examples/polyglot
mkdir -p "$1" || die "cannot create $1"
out=$(cd "$1" && pwd)

for tool in node npm python3 flock sha256sum; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH"
done

# One run at a time per checkout: the installs below write into it.
exec 9>"$poly/.polyglot.lock"
if ! flock -n 9; then
    say "waiting for another run to finish"
    flock 9
fi

# sha256 of the named files (paths relative to the checkout), in a stable order.
inputs_hash() {
    (cd "$root" && find "$@" -type f ! -path '*/__pycache__/*' -print0 | sort -z |
        xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
}

# Toolchains: reinstalled whenever their lock file changed.
js_stamp=$poly/node_modules/.polyglot.sha256
js_want=$(inputs_hash examples/polyglot/package-lock.json) || die "cannot read package-lock.json"
if [[ "$(cat "$js_stamp" 2>/dev/null)" != "$js_want" ]]; then
    say "installing the JavaScript toolchain (npm ci in examples/polyglot)"
    (cd "$poly" && npm ci --no-audit --no-fund >&2) || die "npm ci failed in $poly"
    echo "$js_want" >"$js_stamp"
fi
py_stamp=$poly/.venv/.polyglot.sha256
py_want=$(inputs_hash examples/polyglot/requirements.txt) || die "cannot read requirements.txt"
if [[ "$(cat "$py_stamp" 2>/dev/null)" != "$py_want" ]]; then
    say "installing the Python toolchain (examples/polyglot/.venv, pip --require-hashes)"
    rm -rf "$poly/.venv"
    python3 -m venv "$poly/.venv" >&2 ||
        die "python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)"
    "$poly/.venv/bin/pip" install --quiet --require-hashes -r "$poly/requirements.txt" >&2 ||
        die "pip install failed"
    echo "$py_want" >"$py_stamp"
fi

# build NAME "INPUT…" COMMAND…: runs `COMMAND… OUTFILE` from the checkout unless NAME's inputs
# (and this script) are unchanged since the last build into OUTDIR.
build() {
    local name=$1 inputs=$2
    shift 2
    local target=$out/$name.wasm stamp=$out/$name.wasm.inputs tmp=$out/.$name.wasm.tmp hash
    # shellcheck disable=SC2086 # INPUT is a list of paths
    hash=$(inputs_hash $inputs scripts/polyglot.sh) || die "cannot read the inputs of $name.wasm"
    if [[ -f $target && "$(cat "$stamp" 2>/dev/null)" == "$hash" ]]; then
        say "$name.wasm is up to date"
        return
    fi
    say "building $name.wasm: $* OUTFILE"
    local start=$SECONDS
    (cd "$root" && "$@" "$tmp" >&2) || die "building $name.wasm failed"
    [[ -s $tmp ]] || die "building $name.wasm produced no file"
    mv -f "$tmp" "$target"
    echo "$hash" >"$stamp"
    say "built $name.wasm: $(($(stat -c %s "$target") / 1024)) KiB in $((SECONDS - start)) s"
}

js=examples/polyglot/js
py=examples/polyglot/python
cpy=$poly/.venv/bin/componentize-py
build slugify-js "$js/slugify wit examples/polyglot/package-lock.json" \
    node "$js/slugify/build.mjs"
build fetch-js "$js/fetch examples/polyglot/package-lock.json" \
    node "$js/fetch/build.mjs"
build agent-js "$js/agent wit examples/polyglot/package-lock.json" \
    node "$js/agent/build.mjs"
build slugify-py "$py/slugify wit examples/polyglot/requirements.txt" \
    "$cpy" -d wit -w tool componentize -p "$py/slugify" app --stub-wasi -o
build fetch-py "$py/fetch examples/polyglot/requirements.txt" \
    "$cpy" -d "$py/fetch/wit" -w fetch componentize -p "$py/fetch" app -o
say "done: $out"
