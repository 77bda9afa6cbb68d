#!/usr/bin/env bash
# Runs `highlightd predict` on the bundled sample with the default configuration.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
mkdir -p "$here/out"
"$here/target/release/highlightd" predict "$here/samples/index.jsonl" -o "$here/out/sample-predictions.jsonl"
echo "predictions written to $here/out/sample-predictions.jsonl" >&2
