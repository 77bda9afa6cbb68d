#!/usr/bin/env bash
# Benchmark: end-to-end `predict` throughput next to decode-only speed on a 1080p H.264 file
# (20 s, 25 fps, B-frames) made from the bundled sample, unless a file is given.
# usage: scripts/bench.sh [VIDEO] [extra bench args]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
video=${1:-}
if [ -z "$video" ]; then
  video=${TMPDIR:-/tmp}/highlightd-bench-1080p-av.mp4
  if [ ! -s "$video" ]; then
    echo "making $video from samples/bigbuckbunny.mp4" >&2
    ffmpeg -loglevel error -y -stream_loop 3 -i "$here/samples/bigbuckbunny.mp4" \
      -vf "scale=1920:1080:flags=bicubic,fps=25" -c:v libx264 -preset medium -bf 3 -g 50 \
      -pix_fmt yuv420p -c:a aac -b:a 128k "$video"
  fi
else
  shift
fi
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
"$here/target/release/highlightd" bench "$video" --log warn "$@"
