#!/usr/bin/env bash
# Agent libOS: set-up and the two main jobs. Everything the build needs is installed here.
#
#   ./dev.sh demo    build everything and run the deterministic demo (embedded SQLite store)
#   ./dev.sh test    build everything and run every test (what CI runs)
#   ./dev.sh lint    clippy with warnings as errors (a second, check-mode build of every crate)
#   ./dev.sh bench   run the benchmarks and the 100,000-process run (numbers go in BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")"

# Guests build for these targets from source; install them if they are missing.
ensure_targets() {
    local installed
    installed=$(rustup target list --installed)
    for target in wasm32-unknown-unknown wasm32-wasip2; do
        if ! grep -qx "$target" <<<"$installed"; then
            echo "installing the Rust target $target" >&2
            rustup target add "$target"
        fi
    done
}

case "${1:-}" in
    demo)
        ensure_targets
        cargo build --release --locked -p libos-cli -p libos-guests
        exec bash scripts/demo.sh
        ;;
    test)
        ensure_targets
        cargo fmt --all --check
        # A clean build gains nothing from incremental state, which is most of its disk.
        CARGO_INCREMENTAL=0 exec cargo test --workspace --locked
        ;;
    lint)
        ensure_targets
        exec cargo clippy --workspace --all-targets --locked -- -D warnings
        ;;
    bench)
        ensure_targets
        cargo bench --locked -p libos --bench primitives --bench wasi_fs
        cargo bench --locked -p libos-process --bench shell --bench record_first --bench spawn_scale --bench jit_tools --bench resume
        cargo bench --locked -p libos-journal --bench group_commit
        # 100,000 parked processes in one `libos run -d` host (needs vm.max_map_count raised:
        # the test raises it when run as root, or says how).
        exec cargo test --release --locked -p libos-cli --test suite -- --ignored --nocapture \
            scale::hundred_thousand_parked_in_the_product
        ;;
    *)
        echo "usage: ./dev.sh demo | test | lint | bench" >&2
        exit 2
        ;;
esac
