#!/usr/bin/env bash
# What an idle `highlightd serve` costs, and how many scans an event storm causes.
#
#   scripts/idle-cost.sh [BINARY] [SECONDS]
#
# Starts BINARY (default target/release/highlightd) with the default [serve] settings on a
# fresh temporary folder, lets it settle for 5 s, and prints its CPU time over SECONDS
# (default 60; utime + stime from /proc/PID/stat) and its resident memory, for: an empty
# ingest folder, 300 finished files in done/, and MQTT on against a local mosquitto (stats
# every 10 s). Then it creates and deletes 3000 files in the ingest folder and counts the
# scans (the daemon's opens of the ingest folder, by strace) over the storm plus 1 s.
# The three idle cases run one after the other, so a daemon that spins does not slow the
# others down. Needs mosquitto (scripts/setup.sh --test) and strace.
set -euo pipefail

BIN=$(realpath "${1:-target/release/highlightd}")
SECS=${2:-60}
ROOT=$(mktemp -d /tmp/highlightd-idle.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$ROOT"
}
trap cleanup EXIT

ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }

config() { # DIR EXTRA
    mkdir -p "$1"
    printf '[serve]\ningest_dir = "%s/ingest"\noutput_dir = "%s/out"\nstate_dir = "%s/state"\n%b' "$1" "$1" "$1" "${2:-}" >"$1/highlightd.toml"
}

start() { # DIR [strace file]
    if [ -n "${2:-}" ]; then
        strace -f -qq -e trace=openat -o "$2" "$BIN" --log warn serve --config "$1/highlightd.toml" 2>"$1/daemon.log" &
    else
        "$BIN" --log warn serve --config "$1/highlightd.toml" 2>"$1/daemon.log" &
    fi
    PIDS+=($!)
    sleep 5
}

daemon_pid() { # the highlightd process (not strace) under the last started job
    local p
    for p in $(pgrep -f -- "serve --config $1/highlightd.toml"); do
        if [ "$(cat /proc/"$p"/comm 2>/dev/null)" != strace ]; then echo "$p"; fi
    done
}

measure() { # NAME DIR
    local pid t0 t1 rss
    pid=$(daemon_pid "$2")
    t0=$(ticks "$pid")
    sleep "$SECS"
    t1=$(ticks "$pid")
    rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$pid/status")
    awk -v n="$1" -v d=$((t1 - t0)) -v s="$SECS" -v r="$rss" \
        'BEGIN { printf "%-20s %5d ticks in %d s = %6.2f %% of a core, RSS %d MiB\n", n, d, s, d / s, r / 1024 }'
    kill "$pid"
    wait "$pid" 2>/dev/null || true
}

config "$ROOT/empty"
start "$ROOT/empty"
measure "empty ingest" "$ROOT/empty"

config "$ROOT/done"
mkdir -p "$ROOT/done/ingest/done"
for i in $(seq -w 1 300); do
    echo finished >"$ROOT/done/ingest/done/v$i.mp4"
    echo '{"targetRatioWH": [9, 16]}' >"$ROOT/done/ingest/done/v$i.json"
done
start "$ROOT/done"
measure "300 files in done/" "$ROOT/done"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'user %s\nlistener %s 127.0.0.1\nallow_anonymous true\n' "$(id -un)" "$PORT" >"$ROOT/mosquitto.conf"
/usr/sbin/mosquitto -c "$ROOT/mosquitto.conf" 2>/dev/null &
PIDS+=($!)
sleep 1
config "$ROOT/mqtt" "[mqtt]\nenabled = true\nport = $PORT\ndevice_id = \"idle\"\nstats_interval_s = 10\n"
start "$ROOT/mqtt"
measure "MQTT on" "$ROOT/mqtt"

config "$ROOT/storm" "stable_s = 30.0\n"
start "$ROOT/storm" "$ROOT/storm.trace"
before=$(grep -c "\"$ROOT/storm/ingest\", O_RDONLY" "$ROOT/storm.trace" || true)
t0=$(date +%s.%N)
for i in $(seq -w 1 3000); do : >"$ROOT/storm/ingest/storm$i.mp4"; done
rm "$ROOT"/storm/ingest/storm*.mp4
t1=$(date +%s.%N)
sleep 1
after=$(grep -c "\"$ROOT/storm/ingest\", O_RDONLY" "$ROOT/storm.trace" || true)
awk -v a="$before" -v b="$after" -v t0="$t0" -v t1="$t1" \
    'BEGIN { printf "event storm: 3000 files created and deleted in %.2f s: %d scans over the storm + 1 s\n", t1 - t0, b - a }'
