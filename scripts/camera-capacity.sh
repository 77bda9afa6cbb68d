#!/usr/bin/env bash
# How many 1080p25 cameras this box analyses with the default networks.
#
#   scripts/camera-capacity.sh [CAMERAS] [SECONDS]      (default 1 camera, 100 s)
#
# Makes 100 s of 1080p25 H.264 from the bundled sample, serves it over RTSP once per camera
# (the RTSP server child of tests/cameras.rs, a real gstreamer-rtsp-server on loopback), runs
# `highlightd serve` with CAMERAS cameras on those servers, the default networks, and MQTT on a
# mosquitto of its own, and after SECONDS reads every camera's retained `state`: frames
# received, analysed and dropped. Each server sends at the file's rate (25 fps). While no
# frame is dropped the box keeps up and the total is the cameras' rate, not its limit; with
# more cameras than it can analyse, frames are dropped and the total analysed per second over
# 25 is how many 1080p25 cameras the box sustains.
#
# Needs the test build (`cargo test --profile ci --no-run`), the release binary
# (`cargo build --release`), ffmpeg, mosquitto and mosquitto-clients.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cameras=${1:-1}
seconds=${2:-100}
bin="$here/target/release/highlightd"
server=$(ls -t "$here"/target/ci/deps/cameras-* 2>/dev/null | grep -v '\.d$' | head -1 || true)
[ -x "$bin" ] || { echo "no $bin: cargo build --release" >&2; exit 1; }
[ -n "$server" ] || { echo "no cameras test binary: cargo test --profile ci --no-run" >&2; exit 1; }
work=$(mktemp -d /tmp/highlightd-capacity.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

clip="$work/1080p25.mp4"
ffmpeg -loglevel error -stream_loop 9 -i "$here/samples/bigbuckbunny.mp4" -an -t 100 \
  -vf "scale=1920:1080,fps=25" -c:v libx264 -preset veryfast -g 25 -keyint_min 25 -sc_threshold 0 "$clip"

broker=$(free_port)
mosquitto -p "$broker" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
cams=""
for i in $(seq 1 "$cameras"); do
  port=$(free_port)
  HIGHLIGHTD_TEST_RTSP_SERVER="$port $clip" "$server" --exact rtsp_server_child --nocapture --test-threads 1 >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do (echo >/dev/tcp/127.0.0.1/"$port") 2>/dev/null && break; sleep 0.1; done
  cams+=$'\n'"[[cameras]]"$'\n'"name = \"cam$i\""$'\n'"url = \"rtsp://127.0.0.1:$port/cam\""$'\n'
done
cat >"$work/highlightd.toml" <<EOF
[serve]
ingest_dir = "$work/ingest"
output_dir = "$work/out"
state_dir = "$work/state"
[mqtt]
enabled = true
host = "127.0.0.1"
port = $broker
device_id = "box"
topic_prefix = "capacity"
$cams
EOF
"$bin" --log info serve --config "$work/highlightd.toml" 2>"$work/daemon.log" &
daemon=$!
pids+=($daemon)
sleep "$seconds"
peak=$(awk '/VmHWM/ {print int($2/1024)}' "/proc/$daemon/status")
total=0
dropped=0
for i in $(seq 1 "$cameras"); do
  state=$(timeout 5 mosquitto_sub -p "$broker" -t "capacity/box/cameras/cam$i/state" -C 1)
  echo "$state" | python3 -c '
import json, sys
j = json.load(sys.stdin)
print("{camera}: state {state}, fps {fps}, frames {frames}, analysed {analysed}, dropped {dropped}".format(**j))'
  a=$(echo "$state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["analysed"])')
  d=$(echo "$state" | python3 -c 'import json,sys; print(json.load(sys.stdin)["dropped"])')
  total=$((total + a))
  dropped=$((dropped + d))
done
python3 -c "print(f'$cameras camera(s), $seconds s: {$total} frames of 1080p analysed ({$total / $seconds:.1f} a second), {$dropped} dropped; daemon peak RSS $peak MiB')"
if [ "$dropped" -gt 0 ]; then
  python3 -c "print(f'the box sustains {$total / $seconds / 25:.2f} cameras of 1080p25')"
else
  echo "no frame dropped: the box kept up with every camera (run more cameras to find its limit)"
fi
