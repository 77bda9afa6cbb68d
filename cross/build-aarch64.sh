#!/usr/bin/env bash
# Cross-builds highlightd for aarch64-unknown-linux-gnu (Jetson / arm64 Debian and Ubuntu) on a
# Debian 12 x86_64 machine without Docker, and packages it (.deb for arm64, and for amd64 with
# --amd64). Idempotent: a second run reuses the tools, the sysroot and the build, and only
# rebuilds what changed. Usage: cross/build-aarch64.sh --help.
#
# How (cross/README.md has the details):
#   - compiler: Debian's rustc-web/cargo-web (bookworm-security), called by explicit path
#     (/usr/bin/rustc, /usr/bin/cargo); the rustup toolchain on PATH is left alone;
#   - target std and C libraries: arm64 Debian packages (libstd-rust-web-dev, GStreamer dev
#     files and plugins, their dependencies) fetched with a PRIVATE apt configuration
#     (own sources list, state and cache, APT::Architecture=arm64) and unpacked with
#     dpkg-deb -x into a sysroot: the machine's dpkg architectures are never changed;
#   - linker: gcc-aarch64-linux-gnu with --sysroot; pkg-config through PKG_CONFIG_SYSROOT_DIR
#     and PKG_CONFIG_LIBDIR;
#   - emulator for the smoke test: qemu-aarch64 (static) from bookworm-backports' qemu-user,
#     unpacked from the package, not installed;
#   - ONNX Runtime for the package: engines/lib/<arch>/libonnxruntime.so when engines/build.py
#     made it, else the library from the PyPI onnxruntime wheel (pip download, unzipped);
#   - package: cargo-deb (pinned), installed once into the cache.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

# ---- settings ---------------------------------------------------------------------------
CARGO_DEB_VERSION=3.8.0                 # cargo install cargo-deb --locked --version this
ORT_VERSION=${HIGHLIGHTD_ORT_VERSION:-1.22.1}   # onnxruntime wheel when engines/lib/ has none
DEBIAN_SUITE=bookworm
TARGET=aarch64-unknown-linux-gnu
CACHE=${HIGHLIGHTD_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/highlightd-cross}
OUT=${HIGHLIGHTD_CROSS_TARGET_DIR:-$here/target/cross}   # cross build's target dir, stage, packages
SYSROOT=$CACHE/sysroot-arm64
TOOLS=$CACHE/tools
# arm64 packages unpacked into the sysroot: link-time (-dev) and run-time (plugins for the
# smoke test: decodebin, qtdemux, avdec_h264, videoconvert/scale, audio conversion).
SYSROOT_PACKAGES=(libc6-dev libgcc-s1 libstdc++6
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-libav)
# Packages of the closure that are never needed to link or to run the smoke test (programs,
# interpreters, data, the GL/LLVM stack): not unpacked, which saves most of the time and space.
SKIP_UNPACK='^(perl|perl-base|perl-modules-.*|libperl.*|python3.*|libpython3.*|systemd|systemd-sysv|libsystemd-shared|dbus.*|libllvm.*|libgl1-mesa-dri|libz3-.*|iso-codes|dpkg|tar|usrmerge|passwd|adduser|mount|procps|gsettings-desktop-schemas|shared-mime-info|fonts-.*|gir1\.2-.*|libglib2\.0-dev-bin|libwayland-bin|libstd-rust-web-1\..*|debconf|init-system-helpers|libpam.*|readline-common|media-types|libc-dev-bin|rpcsvc-proto|xorg-sgml-doctools|dconf-.*|glib-networking.*)$'

usage() {
  cat <<EOF
usage: cross/build-aarch64.sh [options]

Builds target/cross/$TARGET/release/highlightd and target/cross/debian/highlightd_*_arm64.deb.

  --amd64            also package the host (x86_64) build as highlightd_*_amd64.deb (runs
                     'cargo build --release' with the normal toolchain first; no-op if fresh)
  --no-deb           build the binary only
  --without-models   package without engines/manifest.json and engines/models/ (the ONNX
                     Runtime library is still shipped); without this flag they must exist
                     (python3 engines/build.py), else the script stops
  --fast             lighter .deb compression (about half the packaging time, ~20% larger):
                     what the test suite uses
  --smoke            build for the test suite, not for shipping: the aarch64 binary with the
                     'smoke' profile (opt-level 1, no LTO: a few minutes less to compile) and
                     the amd64 one is the tests' build ('cargo test --profile ci --no-run'); the
                     binaries land in <target>/smoke/ and target/ci/ instead of release/
  --no-install       do not apt-get install missing host tools: fail naming them instead
  --refresh          re-read the package indexes now (otherwise at most once a day)
  -h, --help         this text

Environment: HIGHLIGHTD_CROSS_CACHE (default ~/.cache/highlightd-cross: apt state, sysroot,
tools), HIGHLIGHTD_CROSS_TARGET_DIR (default target/cross), HIGHLIGHTD_ORT_VERSION (default
$ORT_VERSION), CARGO_BUILD_JOBS.
Writes target/cross/cross-env (paths for tests/cross_aarch64.rs).
EOF
}

want_amd64=false want_deb=true without_models=false may_install=true refresh=false deb_fast=()
cross_profile=release host_profile=release
while [ $# -gt 0 ]; do
  case "$1" in
    --amd64) want_amd64=true ;;
    --no-deb) want_deb=false ;;
    --without-models) without_models=true ;;
    --fast) deb_fast=(--fast) ;;
    --smoke) cross_profile=smoke host_profile=ci ;;
    --no-install) may_install=false ;;
    --refresh) refresh=true ;;
    -h|--help) usage; exit 0 ;;
    *) echo "cross: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "cross: $*" >&2; }
die() { echo "cross: error: $*" >&2; exit 1; }
t0=$(date +%s)
step_t=$t0
step() {
  local now; now=$(date +%s)
  say "[$((now - t0))s] $*"
  step_t=$now
}

[ "$(uname -m)" = x86_64 ] || die "this script runs on an x86_64 build machine (this is $(uname -m))"
command -v dpkg-deb >/dev/null && command -v apt-get >/dev/null \
  || die "dpkg-deb and apt-get are required (Debian 12 build machine)"

# ---- 1. host tools (system packages) ------------------------------------------------------
step "host tools"
need=()
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed"; }
for p in rustc-web cargo-web gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkg-config ca-certificates; do
  pkg_ok "$p" || need+=("$p")
done
if $want_deb; then
  pkg_ok lintian || need+=(lintian)
fi
command -v python3 >/dev/null || need+=(python3)
python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  $may_install || die "missing host packages: ${need[*]} (apt-get install ${need[*]}, or run without --no-install)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  say "installing ${need[*]}"
  $SUDO apt-get update -qq
  # rustc-web/cargo-web come from bookworm-security: the machine's sources must include it.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null \
    || die "apt-get install ${need[*]} failed (rustc-web and cargo-web need ${DEBIAN_SUITE}-security in the apt sources)"
fi
RUSTC_WEB=/usr/bin/rustc
CARGO_WEB=/usr/bin/cargo
[ -x $RUSTC_WEB ] && [ -x $CARGO_WEB ] || die "rustc-web/cargo-web did not install /usr/bin/rustc and /usr/bin/cargo"
rustc_web_version=$(dpkg-query -W -f='${Version}' rustc-web)
say "compiler: $($RUSTC_WEB --version) (rustc-web $rustc_web_version)"

# ---- 2. private apt configuration ---------------------------------------------------------
# The mirrors are the ones this machine's apt already uses (apt-get indextargets), so no host
# is named here. HIGHLIGHTD_CROSS_MIRROR / HIGHLIGHTD_CROSS_SECURITY_MIRROR override them.
step "private apt configuration (arm64, ${DEBIAN_SUITE}; qemu from ${DEBIAN_SUITE}-backports)"
repo_for() { apt-get indextargets --format '$(RELEASE) $(REPO_URI)' 2>/dev/null | awk -v r="$1" '$1 == r { print $2; exit }'; }
mirror=${HIGHLIGHTD_CROSS_MIRROR:-$(repo_for "$DEBIAN_SUITE")}
security=${HIGHLIGHTD_CROSS_SECURITY_MIRROR:-$(repo_for "$DEBIAN_SUITE-security")}
[ -n "$mirror" ] || die "no '$DEBIAN_SUITE' suite in this machine's apt sources (run apt-get update, or set HIGHLIGHTD_CROSS_MIRROR)"
[ -n "$security" ] || die "no '$DEBIAN_SUITE-security' suite in this machine's apt sources (set HIGHLIGHTD_CROSS_SECURITY_MIRROR)"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -r $keyring ] || die "$keyring missing (apt-get install debian-archive-keyring)"
apt_root=$CACHE/apt
mkdir -p "$apt_root"/state/lists/partial "$apt_root"/cache/archives/partial "$apt_root"/etc/sources.list.d "$apt_root"/etc/preferences.d
: > "$apt_root/state/status.new"
[ -f "$apt_root/state/status" ] || mv "$apt_root/state/status.new" "$apt_root/state/status"
rm -f "$apt_root/state/status.new"
cat > "$apt_root/etc/sources.list.new" <<EOF
deb [arch=arm64 signed-by=$keyring] $mirror $DEBIAN_SUITE main
deb [arch=arm64 signed-by=$keyring] $mirror $DEBIAN_SUITE-updates main
deb [arch=arm64 signed-by=$keyring] $security $DEBIAN_SUITE-security main
deb [arch=amd64 signed-by=$keyring] $mirror $DEBIAN_SUITE-backports main
EOF
if ! cmp -s "$apt_root/etc/sources.list.new" "$apt_root/etc/sources.list"; then
  mv "$apt_root/etc/sources.list.new" "$apt_root/etc/sources.list"
  refresh=true
else
  rm "$apt_root/etc/sources.list.new"
fi
cat > "$apt_root/apt.conf" <<EOF
Dir::State "$apt_root/state";
Dir::State::status "$apt_root/state/status";
Dir::Cache "$apt_root/cache";
Dir::Etc::SourceList "$apt_root/etc/sources.list";
Dir::Etc::SourceParts "$apt_root/etc/sources.list.d";
Dir::Etc::Preferences "$apt_root/etc/preferences";
Dir::Etc::PreferencesParts "$apt_root/etc/preferences.d";
APT::Architecture "arm64";
APT::Architectures { "arm64"; "amd64"; };
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Debug::NoLocking "true";
APT::Sandbox::User "root";
EOF
papt() { APT_CONFIG="$apt_root/apt.conf" "$@"; }
stamp_lists=$apt_root/state/updated
if $refresh || [ ! -f "$stamp_lists" ] || [ -n "$(find "$stamp_lists" -mmin +1440 2>/dev/null)" ]; then
  papt apt-get update -qq || die "apt-get update with the private configuration ($apt_root/apt.conf) failed"
  touch "$stamp_lists"
fi

# ---- 3. arm64 sysroot ---------------------------------------------------------------------
step "arm64 sysroot ($SYSROOT)"
arm64_pkgs=()
for p in "${SYSROOT_PACKAGES[@]}"; do arm64_pkgs+=("$p:arm64"); done
# The whole dependency closure, resolved against an empty dpkg status: download only.
papt apt-get install --download-only -y -qq "${arm64_pkgs[@]}" >/dev/null \
  || die "could not resolve/download the arm64 packages ${SYSROOT_PACKAGES[*]} (private apt: $apt_root)"
# Rust's aarch64 std, exactly the rustc-web version (its own dependencies are not needed).
( cd "$apt_root/cache/archives" &&
  { ls "libstd-rust-web-dev_${rustc_web_version//:/%3a}_arm64.deb" >/dev/null 2>&1 ||
    papt apt-get download -qq "libstd-rust-web-dev:arm64=$rustc_web_version"; } ) \
  || die "libstd-rust-web-dev:arm64 $rustc_web_version (matching rustc-web) is not available from $security"
# What the sysroot should hold: the closure as apt resolves it now (simulated on the empty
# status; the cache may also hold older versions).
mapfile -t wanted < <(papt apt-get install -s -qq "${arm64_pkgs[@]}" 2>/dev/null \
  | sed -n 's/^Inst \([^ ]*\) (\([^ ]*\) .*\[\([a-z0-9]*\)\]).*/\1_\2_\3.deb/p' | sed 's/:/%3a/g')
[ ${#wanted[@]} -gt 0 ] || die "apt resolved no arm64 packages (private apt: $apt_root)"
wanted+=("libstd-rust-web-dev_${rustc_web_version//:/%3a}_arm64.deb")
# (The first line is the layout of the unpacking below: changing it re-unpacks the sysroot.)
manifest=$(echo "layout 2"; printf '%s\n' "${wanted[@]}" | sort -u)
if [ -f "$SYSROOT/.debs" ] && [ "$(cat "$SYSROOT/.debs")" = "$manifest" ]; then
  say "sysroot up to date ($(grep -c '\.deb$' <<<"$manifest") packages resolved)"
else
  new=$SYSROOT.new
  rm -rf "$new"
  mkdir -p "$new"
  n=0
  while read -r deb; do
    [[ $deb == *.deb ]] || continue
    name=${deb%%_*}
    [[ $name =~ $SKIP_UNPACK ]] && continue
    [ -f "$apt_root/cache/archives/$deb" ] || die "downloaded package missing: $apt_root/cache/archives/$deb"
    dpkg-deb -x "$apt_root/cache/archives/$deb" "$new"
    n=$((n + 1))
  done <<<"$manifest"
  # Merged /usr, as on the target: /lib, /bin, /sbin -> usr/...
  for d in lib bin sbin; do
    if [ -d "$new/$d" ] && [ ! -L "$new/$d" ]; then
      mkdir -p "$new/usr/$d"
      cp -a "$new/$d/." "$new/usr/$d/"
      rm -rf "${new:?}/$d"
    fi
    ln -sfn "usr/$d" "$new/$d"
  done
  # Symlinks that maintainer scripts would make (update-alternatives): BLAS and LAPACK, which
  # libavfilter (and so the libav plugin) needs.
  for alt in blas/libblas.so.3 lapack/liblapack.so.3; do
    [ -e "$new/usr/lib/aarch64-linux-gnu/$alt" ] && ln -sfn "$alt" "$new/usr/lib/aarch64-linux-gnu/${alt#*/}"
  done
  # Absolute symlinks (e.g. libfoo.so -> /lib/...) would point into the host: make them relative.
  while IFS= read -r -d '' link; do
    dest=$(readlink "$link")
    case "$dest" in /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$new$dest")" "$link" ;; esac
  done < <(find "$new" -type l -print0)
  compgen -G "$new/usr/lib/rustlib/$TARGET/lib/libstd-*.rlib" >/dev/null \
    || die "the aarch64 Rust std did not unpack into $new/usr/lib/rustlib/$TARGET/lib"
  printf '%s\n' "$manifest" > "$new/.debs"
  rm -rf "$SYSROOT"
  mv "$new" "$SYSROOT"
  say "unpacked $n packages into $SYSROOT ($(du -sh "$SYSROOT" | cut -f1))"
fi

# ---- 4. qemu-aarch64 (bookworm-backports qemu-user: static binaries) ------------------------
step "qemu-aarch64"
QEMU=$TOOLS/qemu/qemu-aarch64
qemu_version=$(papt apt-cache policy qemu-user:amd64 2>/dev/null | awk '/Candidate:/ { print $2 }')
if [ -z "$qemu_version" ] || [ "$qemu_version" = "(none)" ]; then
  [ -x "$QEMU" ] || die "qemu-user is not available from $DEBIAN_SUITE-backports ($mirror)"
elif [ ! -x "$QEMU" ] || [ "$(cat "$TOOLS/qemu/version" 2>/dev/null)" != "$qemu_version" ]; then
  tmp=$(mktemp -d)
  ( cd "$tmp" && papt apt-get download -qq "qemu-user:amd64=$qemu_version" ) || die "could not download qemu-user:amd64 $qemu_version"
  mkdir -p "$TOOLS/qemu"
  dpkg-deb --fsys-tarfile "$tmp"/qemu-user_*.deb | tar -x -C "$tmp" ./usr/bin/qemu-aarch64
  mv "$tmp/usr/bin/qemu-aarch64" "$QEMU"
  echo "$qemu_version" > "$TOOLS/qemu/version"
  rm -rf "$tmp"
fi
qemu_says=$("$QEMU" --version) || die "$QEMU does not run"
say "${qemu_says%%$'\n'*}"

# ---- 5. the cross build -------------------------------------------------------------------
step "cargo build --profile $cross_profile --target $TARGET (target dir $OUT)"
build_start=$(date +%s)
(
  # Only this subshell sees the cross settings (cargo-deb's install and the host build below
  # must not).
  export RUSTC=$RUSTC_WEB RUSTDOC=/usr/bin/rustdoc
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
  # Target-only flags: the arm64 std comes from the sysroot; host build scripts and proc macros
  # use rustc-web's own x86_64 std.
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUSTFLAGS="--sysroot=$SYSROOT/usr -C link-arg=--sysroot=$SYSROOT"
  export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc CXX_aarch64_unknown_linux_gnu=aarch64-linux-gnu-g++
  export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
  export CFLAGS_aarch64_unknown_linux_gnu="--sysroot=$SYSROOT" CXXFLAGS_aarch64_unknown_linux_gnu="--sysroot=$SYSROOT"
  export PKG_CONFIG_ALLOW_CROSS=1 PKG_CONFIG_SYSROOT_DIR=$SYSROOT
  export PKG_CONFIG_LIBDIR=$SYSROOT/usr/lib/aarch64-linux-gnu/pkgconfig:$SYSROOT/usr/share/pkgconfig
  unset PKG_CONFIG_PATH
  # The package strips the binary anyway: no debug info saves compile and link time.
  export CARGO_PROFILE_RELEASE_DEBUG=${CARGO_PROFILE_RELEASE_DEBUG:-0}
  exec $CARGO_WEB build --profile $cross_profile --locked --target $TARGET --target-dir "$OUT" --bin highlightd
) || die "cross build failed (see above)"
BIN=$OUT/$TARGET/$cross_profile/highlightd
file_out=$(od -An -tx1 -j18 -N2 "$BIN" | tr -d ' ')
[ "$file_out" = "b700" ] || die "$BIN is not an aarch64 ELF (e_machine $file_out)"
say "built $BIN in $(( $(date +%s) - build_start ))s"
# The Jetson's limits: JetPack 6 is Ubuntu 22.04 (glibc 2.35, GStreamer 1.20).
glibc_max=$(aarch64-linux-gnu-objdump -T "$BIN" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)
say "highest glibc symbol version needed: $glibc_max (JetPack 6 has 2.35)"

# ---- 6. ONNX Runtime libraries ------------------------------------------------------------
step "ONNX Runtime libraries"
# ort_lib ARCH -> prints the path of a libonnxruntime.so for ARCH (aarch64 | x86_64).
ort_lib() {
  local arch=$1 plat
  if [ -f "$here/engines/lib/$arch/libonnxruntime.so" ]; then
    echo "$here/engines/lib/$arch/libonnxruntime.so"; return
  fi
  local dir=$CACHE/onnxruntime/$ORT_VERSION/$arch
  if [ ! -f "$dir/libonnxruntime.so" ]; then
    case $arch in aarch64) plat=manylinux_2_27_aarch64 ;; x86_64) plat=manylinux_2_27_x86_64 ;; esac
    local tmp; tmp=$(mktemp -d)
    say "pip download onnxruntime==$ORT_VERSION ($plat)"
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform "$plat" --python-version 3.11 --implementation cp -d "$tmp" "onnxruntime==$ORT_VERSION" >&2 \
      || die "pip download onnxruntime==$ORT_VERSION for $plat failed"
    mkdir -p "$dir"
    python3 - "$tmp"/onnxruntime-*.whl "$dir" <<'PY' || die "no libonnxruntime.so.* in the onnxruntime wheel"
import sys, zipfile, shutil, os
whl, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(whl)
libs = [n for n in z.namelist() if n.startswith("onnxruntime/capi/libonnxruntime.so")]
if not libs:
    sys.exit(1)
with z.open(libs[0]) as src, open(os.path.join(out, "libonnxruntime.so.tmp"), "wb") as dst:
    shutil.copyfileobj(src, dst)
os.rename(os.path.join(out, "libonnxruntime.so.tmp"), os.path.join(out, "libonnxruntime.so"))
open(os.path.join(out, "SOURCE"), "w").write(os.path.basename(whl) + " " + libs[0] + "\n")
PY
    rm -rf "$tmp"
  fi
  echo "$dir/libonnxruntime.so"
}
ORT_AARCH64=$(ort_lib aarch64)
say "aarch64 onnxruntime: $ORT_AARCH64"

# ---- 7. cargo-deb and the packages --------------------------------------------------------
DEB_ARM64="" DEB_AMD64="" ORT_X86_64=""
if $want_deb; then
  step "cargo-deb $CARGO_DEB_VERSION"
  CARGO_DEB=$TOOLS/cargo-deb-$CARGO_DEB_VERSION/bin/cargo-deb
  if [ ! -x "$CARGO_DEB" ]; then
    command -v cargo >/dev/null || die "cargo (rustup) is needed to install cargo-deb"
    say "cargo install cargo-deb --locked --version $CARGO_DEB_VERSION (once; cached in $TOOLS)"
    # Built with the machine's normal toolchain, not rustc-web.
    cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION" \
      --root "$TOOLS/cargo-deb-$CARGO_DEB_VERSION" --quiet || die "cargo install cargo-deb failed"
  fi

  stage=$OUT/stage
  # stage_engines ARCH: what the package ships besides the binary, in target/cross/stage/.
  stage_engines() {
    local arch=$1 lib=$2
    rm -rf "$stage"
    mkdir -p "$stage/engines"
    cp "$lib" "$stage/libonnxruntime.so"
    if ! $without_models && [ -f "$here/engines/manifest.json" ] && [ -d "$here/engines/models" ]; then
      cp "$here/engines/manifest.json" "$stage/engines/"
      cp -r "$here/engines/models" "$stage/engines/models"
    elif $without_models; then
      cat > "$stage/engines/README.without-models" <<'EOF'
This package was built with --without-models: it has no neural models. Make them on the
device with `highlightd engines build` (or copy an engines/ folder holding manifest.json and
models/ here), then check with `highlightd doctor`.
EOF
    else
      die "engines/manifest.json or engines/models/ is missing: run 'python3 engines/build.py' first, or pass --without-models to package without the models"
    fi
  }
  export CARGO_TARGET_DIR=$OUT
  mkdir -p "$OUT/debian"
  # cargo-deb strips with aarch64-linux-gnu-strip (found by name); cargo-deb itself runs the
  # rustup cargo only for `cargo metadata` (--no-build).
  step "package arm64"
  stage_engines aarch64 "$ORT_AARCH64"
  DEB_ARM64=$("$CARGO_DEB" --no-build --strip "${deb_fast[@]}" --profile $cross_profile --target $TARGET -o "$OUT/debian" 2>"$OUT/debian/cargo-deb.log" | tail -1) || true
  [ -n "$DEB_ARM64" ] && [ -f "$DEB_ARM64" ] || { cat "$OUT/debian/cargo-deb.log" >&2; die "cargo-deb (arm64) failed"; }
  if $want_amd64; then
    step "package amd64 (host build)"
    if [ "$host_profile" = ci ]; then
      # --smoke: package the binary the tests run. `cargo test` builds it with the
      # dev-dependencies' features unified in, so a `cargo build` here would compile a second
      # copy of ~40 crates and of highlightd itself; scripts/test.sh has already run this.
      env -u CARGO_TARGET_DIR cargo test --profile ci --locked --quiet --no-run || die "host build failed"
    else
      env -u CARGO_TARGET_DIR cargo build --profile $host_profile --locked --quiet --bin highlightd || die "host build failed"
    fi
    ORT_X86_64=$(ort_lib x86_64)
    stage_engines x86_64 "$ORT_X86_64"
    DEB_AMD64=$(env -u CARGO_TARGET_DIR "$CARGO_DEB" --no-build --strip "${deb_fast[@]}" --profile $host_profile -o "$OUT/debian" 2>"$OUT/debian/cargo-deb.log" | tail -1) || true
    [ -n "$DEB_AMD64" ] && [ -f "$DEB_AMD64" ] || { cat "$OUT/debian/cargo-deb.log" >&2; die "cargo-deb (amd64) failed"; }
  fi
  step "lintian"
  for deb in $DEB_ARM64 $DEB_AMD64; do
    lintian_rc=0
    lintian --tag-display-limit 0 --fail-on error "$deb" > "$deb.lintian" 2>&1 || lintian_rc=$?
    say "lintian $(basename "$deb") (exit $lintian_rc):"
    sed 's/^/  /' "$deb.lintian" >&2
    if [ $lintian_rc -ne 0 ] || grep -q '^E:' "$deb.lintian"; then die "lintian reports errors for $deb (or failed)"; fi
  done
fi

# ---- 8. what the smoke test needs ---------------------------------------------------------
envfile=$here/target/cross/cross-env   # where tests/cross_aarch64.rs looks, whatever OUT is
mkdir -p "$(dirname "$envfile")"
cat > "$envfile.new" <<EOF
BIN=$BIN
SYSROOT=$SYSROOT
QEMU=$QEMU
ORT_AARCH64=$ORT_AARCH64
ORT_X86_64=$ORT_X86_64
DEB_ARM64=$DEB_ARM64
DEB_AMD64=$DEB_AMD64
RUSTC=$($RUSTC_WEB --version)
EOF
mv "$envfile.new" "$envfile"
step "done: $BIN${DEB_ARM64:+, $DEB_ARM64}${DEB_AMD64:+, $DEB_AMD64}"
