#!/usr/bin/env bash
# On the Jetson (JetPack 6 = Ubuntu 22.04, aarch64), as root: installs the highlightd package,
# points it at JetPack's GPU ONNX Runtime (onnxruntime-gpu with the CUDA and TensorRT
# providers), builds the engines and runs the checks.
#
#   sudo cross/jetson-setup.sh --deb highlightd_0.1.0-1_arm64.deb [--ort-wheel onnxruntime_gpu-*.whl | --ort-dir DIR | --cpu]
#
# Where the GPU ONNX Runtime comes from, in this order:
#   --ort-dir DIR      a folder holding libonnxruntime.so* and libonnxruntime_providers_*.so
#   --ort-wheel FILE   an onnxruntime-gpu wheel built for JetPack 6 (NVIDIA publishes these
#                      for Jetson; pick the one for your JetPack and Python)
#   (neither)          the onnxruntime package importable by the system python3, if it has the
#                      CUDA provider (`pip install onnxruntime-gpu` from NVIDIA's Jetson index)
#   --cpu              none: keep the CPU library the package ships (/usr/lib/highlightd)
# The GPU library files are copied to /usr/local/lib/highlightd/onnxruntime-gpu/ (readable
# under the unit's ProtectHome=yes) and the service gets ORT_DYLIB_PATH through the drop-in
# /etc/systemd/system/highlightd.service.d/jetson.conf.
#
# NOT RUN ON HARDWARE: written and checked with --dry-run on an x86_64 machine only.
set -euo pipefail

deb="" ort_dir="" ort_wheel="" cpu=false dry=false
usage() { sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) deb=${2:?--deb needs a file}; shift ;;
    --ort-dir) ort_dir=${2:?--ort-dir needs a folder}; shift ;;
    --ort-wheel) ort_wheel=${2:?--ort-wheel needs a file}; shift ;;
    --cpu) cpu=true ;;
    --dry-run) dry=true ;;
    -h|--help) usage; exit 0 ;;
    *) echo "jetson-setup: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "jetson-setup: $*" >&2; }
die() { echo "jetson-setup: error: $*" >&2; exit 1; }
run() { if $dry; then echo "+ $*" >&2; else "$@"; fi; }

$dry || [ "$(id -u)" -eq 0 ] || die "run as root (sudo)"
arch=$(uname -m)
[ "$arch" = aarch64 ] || $dry || die "this is $arch; the script is for the Jetson (aarch64)"
if [ -r /etc/nv_tegra_release ]; then
  say "L4T: $(head -1 /etc/nv_tegra_release)"
else
  say "warning: /etc/nv_tegra_release not found: not a Jetson (or not JetPack); going on"
fi

# ---- 1. the package ------------------------------------------------------------------------
if [ -n "$deb" ]; then
  [ -f "$deb" ] || die "$deb not found"
  [ "$(dpkg-deb -f "$deb" Architecture)" = arm64 ] || die "$deb is not an arm64 package"
  say "installing $deb (apt resolves GStreamer and the other dependencies)"
  run apt-get install -y "$(realpath "$deb")"
fi
command -v highlightd >/dev/null || $dry || die "highlightd is not installed: pass --deb highlightd_*_arm64.deb"
# JetPack's GStreamer has nvv4l2decoder/nvvidconv (hardware decode) in
# nvidia-l4t-gstreamer; the software fallbacks come from the package's Recommends.
if ! $dry && ! gst-inspect-1.0 nvv4l2decoder >/dev/null 2>&1; then
  say "warning: GStreamer has no nvv4l2decoder (apt-get install nvidia-l4t-gstreamer): decoding stays on the CPU"
fi

# ---- 2. the GPU ONNX Runtime ---------------------------------------------------------------
dest=/usr/local/lib/highlightd/onnxruntime-gpu
dropin_dir=/etc/systemd/system/highlightd.service.d
ort_path=""
if ! $cpu; then
  src=""
  tmp=""
  if [ -n "$ort_dir" ]; then
    src=$ort_dir
  elif [ -n "$ort_wheel" ]; then
    [ -f "$ort_wheel" ] || die "$ort_wheel not found"
    tmp=$(mktemp -d)
    python3 - "$ort_wheel" "$tmp" <<'PY' || die "could not unpack $ort_wheel"
import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n.startswith("onnxruntime/capi/") and ".so" in n:
        z.extract(n, sys.argv[2])
PY
    src=$tmp/onnxruntime/capi
  else
    src=$(python3 -c 'import onnxruntime, os; print(os.path.join(os.path.dirname(onnxruntime.__file__), "capi"))' 2>/dev/null) \
      || die "no --ort-dir/--ort-wheel and python3 cannot import onnxruntime: install JetPack's onnxruntime-gpu wheel, or pass --cpu"
    python3 -c 'import onnxruntime as o, sys; sys.exit(0 if "CUDAExecutionProvider" in o.get_available_providers() else 1)' \
      || die "the onnxruntime python3 imports ($src) has no CUDA provider: that is the CPU build; install onnxruntime-gpu for JetPack 6, or pass --cpu"
  fi
  lib=$(ls "$src"/libonnxruntime.so* 2>/dev/null | grep -v providers | sort -V | tail -1 || true)
  [ -n "$lib" ] || die "no libonnxruntime.so* in $src"
  ls "$src"/libonnxruntime_providers_cuda.so >/dev/null 2>&1 \
    || say "warning: no libonnxruntime_providers_cuda.so in $src: this ONNX Runtime runs on the CPU only"
  say "ONNX Runtime from $src"
  run mkdir -p "$dest"
  for f in "$src"/libonnxruntime*.so*; do run install -m 0644 "$f" "$dest/"; done
  run ln -sfn "$(basename "$lib")" "$dest/libonnxruntime.so"
  [ -n "$tmp" ] && rm -rf "$tmp"
  ort_path=$dest/libonnxruntime.so
fi

# ---- 3. the service: ONNX Runtime, CUDA libraries, GPU device groups, TensorRT cache ---------
groups=""
for g in video render; do getent group "$g" >/dev/null && groups="$groups $g"; done
$dry && groups=" video render"
conf="[Service]
# Written by cross/jetson-setup.sh.
"
[ -n "$ort_path" ] && conf+="Environment=ORT_DYLIB_PATH=$ort_path
Environment=LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/lib/aarch64-linux-gnu/tegra
"
[ -n "$groups" ] && conf+="# /dev/nvhost-*, /dev/nvmap and /dev/dri belong to these groups on L4T.
SupplementaryGroups=${groups# }
"
conf+="# TensorRT engines are built once per device and cached in /var/cache/highlightd/tensorrt
# ([engines] tensorrt_cache); CacheDirectory= also makes it writable under ProtectSystem=strict.
CacheDirectory=highlightd
"
say "service drop-in $dropin_dir/jetson.conf:"
printf '%s' "$conf" | sed 's/^/    /' >&2
if ! $dry; then
  mkdir -p "$dropin_dir"
  printf '%s' "$conf" > "$dropin_dir/jetson.conf"
  install -d -o highlightd -g highlightd -m 0750 /var/cache/highlightd
  systemctl daemon-reload
fi

# ---- 4. engines and checks (as the service user, with the service's library) ----------------
as_service() {
  if $dry; then echo "+ runuser -u highlightd -- env ${ort_path:+ORT_DYLIB_PATH=$ort_path} highlightd $*" >&2; return 0; fi
  runuser -u highlightd -- env ${ort_path:+ORT_DYLIB_PATH="$ort_path"} LD_LIBRARY_PATH=/usr/local/cuda/lib64:/usr/lib/aarch64-linux-gnu/tegra \
    highlightd "$@"
}
has_command() { $dry || highlightd help "$1" >/dev/null 2>&1; }
if $cpu; then
  say "--cpu: no TensorRT engines to build"
elif has_command engines; then
  say "highlightd engines build (TensorRT engines of every model into [engines] tensorrt_cache; minutes the first time)"
  as_service engines build --config /etc/highlightd/highlightd.toml \
    || die "'highlightd engines build' failed (no TensorRT provider in this ONNX Runtime?): see above; --cpu skips it"
else
  say "this highlightd has no 'engines build' command: skipped"
fi
if has_command doctor; then
  say "highlightd doctor"
  as_service doctor --config /etc/highlightd/highlightd.toml \
    || die "'highlightd doctor' reports FAIL lines (above): fix them, then run this script again (it is idempotent)"
else
  say "this highlightd has no 'doctor' command: skipped"
fi

# ---- 5. (re)start ----------------------------------------------------------------------------
run systemctl enable highlightd.service
run systemctl restart highlightd.service
$dry || systemctl --no-pager --lines=20 status highlightd.service || true
say "done: drop videos into /var/lib/highlightd/ingest (group highlightd may write there), results in /var/lib/highlightd/output"
