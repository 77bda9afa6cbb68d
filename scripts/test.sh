#!/usr/bin/env bash
# Runs the whole test suite (unit, property, integration, and the dev-set score check when
# ../shared/evalsets/dev is present), installing what is missing first.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh" --test
cd "$here"
# One build serves every test: the 'ci' profile (release code, no LTO, no debug info; see
# Cargo.toml). `cargo build --release` is the sample command's, not the tests'.
# --- cross (issue #7): aarch64 cross-build, arm64 + amd64 packages, then tests/cross_aarch64.rs
# runs the aarch64 binary under qemu. Installs its own tools; HIGHLIGHTD_SKIP_CROSS=1 skips it.
if [ "${HIGHLIGHTD_SKIP_CROSS:-0}" != 1 ]; then
  cross_models=--without-models
  [ -f engines/manifest.json ] && [ -d engines/models ] && cross_models=""
  bash cross/build-aarch64.sh --amd64 --fast --smoke $cross_models
  export HIGHLIGHTD_REQUIRE_CROSS=1
fi
# --- end cross
cargo test --profile ci --no-fail-fast "$@"
