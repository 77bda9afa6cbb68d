#!/usr/bin/env bash
# Runs the whole test suite (unit, property, integration, and the dev-set score check when
# ../shared/evalsets/dev is present), installing what is missing first.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh" --test
cd "$here"
cargo build --release --quiet
cargo test --release --no-fail-fast "$@"
