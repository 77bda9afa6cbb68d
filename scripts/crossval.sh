#!/usr/bin/env bash
# Honest figures for the highlight scorer and the selection rules (engines/crossval.py):
# leave-sources-out and leave-one-kind-out on ../shared/evalsets/dev2 and dev, plus the
# "extra", "extra2", "extra3" and "extra4" sets when they exist (engines/dataset/make_extra.py
# [--set extra2|extra3|extra4] builds them; default locations ../extra … ../extra4, or
# HIGHLIGHTD_EXTRA=PATH … HIGHLIGHTD_EXTRA4=PATH): they are in the folds, trained on and
# scored held out.
#   scripts/crossval.sh [--redump] [--train]   (--train also refits the shipped scorer)
# Decodes each set once (predict --dump-features, a few minutes each), then replays.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
sets=$(cd .. && pwd)/shared/evalsets
extra=${HIGHLIGHTD_EXTRA:-$(cd .. && pwd)/extra}
extra2=${HIGHLIGHTD_EXTRA2:-$(cd .. && pwd)/extra2}
extra3=${HIGHLIGHTD_EXTRA3:-$(cd .. && pwd)/extra3}
extra4=${HIGHLIGHTD_EXTRA4:-$(cd .. && pwd)/extra4}
extra5=${HIGHLIGHTD_EXTRA5:-$(cd .. && pwd)/extra5}
redump=false; retrain=false
for a in "$@"; do
  case "$a" in --redump) redump=true ;; --train) retrain=true ;; *) echo "unknown option $a" >&2; exit 2 ;; esac
done
[ -d "$sets/dev2" ] || { echo "crossval: $sets/dev2 not found" >&2; exit 1; }
cargo build --release --quiet
bin=target/release/highlightd
declare -A dir=([dev2]="$sets/dev2" [dev]="$sets/dev")
more=()
scored=()
for name in extra extra2 extra3 extra4 extra5; do
  path=${!name}
  if [ -f "$path/gt.jsonl" ]; then
    dir[$name]=$path
    if [ "$name" = extra5 ]; then
      scored+=(--set "$name=$path" --no-train "$name")
    else
      more+=(--set "$name=$path")
    fi
  else
    echo "crossval: no $name set at $path (engines/dataset/README.md says how to build it)" >&2
  fi
done
for s in "${!dir[@]}"; do
  if $redump || [ ! -d "out/dumps/$s" ]; then
    rm -rf "out/dumps/$s"
    "$bin" --log warn predict "${dir[$s]}" -o "out/dumps/$s-predictions.jsonl" --jobs 2 --dump-features "out/dumps/$s"
  fi
done
py=engines/.venv/bin/python
$retrain && "$py" engines/train_scorer.py --dumps out/dumps "${more[@]}"
"$py" engines/crossval.py --bin "$bin" --dumps out/dumps "${more[@]}" "${scored[@]}" --json out/crossval.json
