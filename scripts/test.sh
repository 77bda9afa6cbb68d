#!/usr/bin/env bash
# Runs the whole test suite (unit, property, integration, and the dev-set score check when
# ../shared/evalsets/dev is present), installing what is missing first.
#
#   scripts/test.sh              everything, in two lanes (below)
#   scripts/test.sh ARGS…        `cargo test --profile ci --no-fail-fast ARGS…` after the cross
#                                build, one test binary after the other (e.g. `--test cameras`)
#
# Why two lanes: on a 2-core machine about half of the suite's wall time is tests that wait on
# real time (RTSP streams played at their rate, reconnect back-offs, MQTT brokers going down
# and up: tests/cameras.rs, serve.rs, mqtt.rs, systemd.rs) while using a fraction of a core,
# and the other half is CPU-bound (the aarch64 cross build, the dev-set predicts, qemu). One
# build of every test binary comes first; then the waiting lane runs at normal priority and
# the busy lane beside it at `nice 19`, so it only takes the CPU the waiting tests leave idle
# and their timing assertions see an unloaded machine.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh" --test --no-engines
cd "$here"
cross=true
[ "${HIGHLIGHTD_SKIP_CROSS:-0}" = 1 ] && cross=false

# --- cross (issue #7): aarch64 cross-build, arm64 + amd64 packages, then tests/cross_aarch64.rs
# runs the aarch64 binary under qemu. Installs its own tools; HIGHLIGHTD_SKIP_CROSS=1 skips it.
cross_build() {
  local models=--without-models
  [ -f engines/manifest.json ] && [ -d engines/models ] && models=""
  bash cross/build-aarch64.sh --amd64 --fast --smoke $models
}

if [ $# -gt 0 ]; then
  bash engines/build.sh
  if $cross; then cross_build; export HIGHLIGHTD_REQUIRE_CROSS=1; fi
  exec cargo test --profile ci --no-fail-fast "$@"
fi

# One build serves every test: the 'ci' profile (release code, no LTO, no debug info; see
# Cargo.toml), and the tests' `highlightd` binary is this build's. The cross script packages
# that same binary for amd64 (its --smoke host build is this command, then a no-op).
results=target/ci-results
rm -rf "$results" && mkdir -p "$results"
# engines/ (pinned registry downloads, conversions, int8 calibration: about 100 s on a fresh
# machine, much of it waiting on downloads) is built beside the compile, which needs none of it.
bash engines/build.sh > "$results/engines.log" 2>&1 &
engines_pid=$!
build_rc=0
cargo test --profile ci --no-run --locked --message-format=json-render-diagnostics > "$results/build.jsonl" || build_rc=$?
engines_rc=0
wait "$engines_pid" || engines_rc=$?
cat "$results/engines.log"
[ "$engines_rc" -eq 0 ] || { echo "engines/build.sh failed (exit $engines_rc; log above)"; exit 1; }
[ "$build_rc" -eq 0 ] || { echo "the test build failed (exit $build_rc)"; exit 1; }
# label<TAB>executable of every test binary: `lib` and `bin` for the unit tests, else the
# integration test's name.
python3 - "$results/build.jsonl" > "$results/binaries.tsv" <<'EOF'
import json, sys
found = {}
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["profile"]["test"] and m.get("executable"):
        kind = m["target"]["kind"][0]
        found[m["target"]["name"] if kind == "test" else kind] = m["executable"]
for label in sorted(found):
    print(f"{label}\t{found[label]}")
EOF

WAITING=" cameras serve mqtt systemd "
# Runs one step (a command) and records its exit status and wall time under
# target/ci-results/<label>.result ("rc seconds"), the one place results are written. It returns
# 0 whatever the step did (the summary reads the results), so `set -e` never stops a lane.
step() {
  local label=$1 t0 rc=0
  shift
  t0=$(date +%s)
  echo "── running $label"
  # Standard input is not the list being read: ffmpeg, which tests run, reads its input.
  "$@" < /dev/null || rc=$?
  echo "$rc $(( $(date +%s) - t0 ))" > "$results/$label.result"
}
# Test binaries run from the package root (where `cargo test` runs them).
waiting_lane() {
  while IFS=$'\t' read -r -u 3 label exe; do
    if [[ $WAITING == *" $label "* ]]; then step "$label" "$exe"; fi
  done 3< "$results/binaries.tsv"
}
busy_lane() {
  if $cross; then
    step cross-build cross_build
    # The cross-build test then insists on the packages this step made.
    if [[ $(cut -d' ' -f1 "$results/cross-build.result") == 0 ]]; then export HIGHLIGHTD_REQUIRE_CROSS=1; fi
  fi
  while IFS=$'\t' read -r -u 3 label exe; do
    if [[ $WAITING != *" $label "* ]]; then step "$label" "$exe"; fi
  done 3< "$results/binaries.tsv"
  # The documentation tests, which `cargo test` would have run last (none exist today).
  step doc-tests cargo test --profile ci --locked --doc
}

t_start=$(date +%s)
waiting_lane > "$results/waiting.log" 2>&1 &
waiting_pid=$!
export -f step busy_lane cross_build
export results cross WAITING
nice -n 19 bash -c busy_lane || true
wait "$waiting_pid" || true
echo "════ the waiting lane's output (${WAITING# }):"
cat "$results/waiting.log"

echo "════ summary (seconds of wall time; the two lanes ran side by side, $(( $(date +%s) - t_start )) s in all)"
failed=0
for f in "$results"/*.result; do
  read -r rc secs < "$f"
  label=$(basename "$f" .result)
  if [ "$rc" = 0 ]; then state=ok; else state="FAILED (exit $rc)"; failed=$((failed + 1)); fi
  printf '  %-18s %5s s  %s\n' "$label" "$secs" "$state"
done
expected=$(( $(wc -l < "$results/binaries.tsv") + 1 ))   # + doc-tests
$cross && expected=$((expected + 1))
got=$(ls "$results"/*.result | wc -l)
[ "$got" -eq "$expected" ] || { echo "$got steps reported a result, $expected expected"; failed=$((failed + 1)); }
while IFS=$'\t' read -r label _; do
  [ -f "$results/$label.result" ] || { echo "no result for $label"; failed=$((failed + 1)); }
done < "$results/binaries.tsv"
[ "$failed" -eq 0 ] || { echo "$failed step(s) failed"; exit 1; }
echo "all $got steps passed"
