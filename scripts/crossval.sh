#!/usr/bin/env bash
# Honest figures for the highlight scorer and the selection rules (engines/crossval.py):
# leave-sources-out and leave-one-kind-out on ../shared/evalsets/dev2 and dev.
#   scripts/crossval.sh [--redump] [--train]   (--train also refits the shipped scorer)
# Decodes each dev set once (predict --dump-features, a few minutes), then replays.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
sets=$(cd .. && pwd)/shared/evalsets
redump=false; retrain=false
for a in "$@"; do
  case "$a" in --redump) redump=true ;; --train) retrain=true ;; *) echo "unknown option $a" >&2; exit 2 ;; esac
done
[ -d "$sets/dev2" ] || { echo "crossval: $sets/dev2 not found" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/highlightd
for s in dev2 dev; do
  if $redump || [ ! -d "out/dumps/$s" ]; then
    rm -rf "out/dumps/$s"
    "$bin" --log warn predict "$sets/$s" -o "out/dumps/$s-predictions.jsonl" --jobs 2 --dump-features "out/dumps/$s"
  fi
done
py=engines/.venv/bin/python
$retrain && "$py" engines/train_scorer.py --dumps out/dumps
"$py" engines/crossval.py --bin "$bin" --dumps out/dumps --json out/crossval.json
