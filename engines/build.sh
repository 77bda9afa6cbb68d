#!/usr/bin/env bash
# Build engines/ (models, int8 variants, manifest.json, libonnxruntime). Idempotent; quick when up to date.
#   engines/build.sh [--arch host|x86_64|aarch64|all] [--remeasure] [--force] [--skip-lib]
# Needs: python3 with venv (Debian: python3-venv), ffmpeg, apt-get (for one Debian sample package).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
  echo "$want" > "$stamp"
fi
exec "$venv/bin/python" "$here/build.py" "$@"
