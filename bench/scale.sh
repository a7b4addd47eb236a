#!/usr/bin/env bash
# bench/scale.sh: does trent stay fast with many keys? Measures Encrypt and
# DescribeKey with 10 keys in the store, fills the store to SCALE_KEYS keys
# through the API (CreateKey, group-committed), measures again, then
# restarts trent on the full store and reports start-up time and resident
# memory. See bench/README.md. Usage: bench/scale.sh   (or: make bench-scale)
#
# Environment:
#   SCALE_KEYS       keys in the full store (default 1000000; about 5 minutes
#                    to fill on a 2-CPU machine)
#   BENCH_DURATION   length of each measurement (default 10s)
#   GO               the go command (default go)
set -euo pipefail

KEYS=${SCALE_KEYS:-1000000}
DURATION=${BENCH_DURATION:-10s}
GO=${GO:-go}
cd "$(dirname "$0")/.."
log() { echo "scale: $*" >&2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/trent-scale.XXXXXX")
pid=
cleanup() {
	[[ -n $pid ]] && kill "$pid" 2>/dev/null || true
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building trent and loadgen"
"$GO" build -o "$work/trent" ./cmd/trent
"$GO" build -o "$work/loadgen" ./bench/loadgen
pin_server=() pin_gen=()
if command -v taskset >/dev/null && taskset -c 1 true 2>/dev/null; then
	pin_server=(taskset -c 0) pin_gen=(taskset -c 1)
fi

# start [pinned]: starts trent on $work/data; sets $pid, $endpoint, $started_ms
# (milliseconds from exec until the first request is answered).
start() {
	local t0 procs=()
	[[ ${1:-} == pinned ]] && procs=(env GOMAXPROCS=1 "${pin_server[@]}")
	t0=$(date +%s%N)
	"${procs[@]}" "$work/trent" serve --listen 127.0.0.1:0 --data "$work/data" >"$work/trent.out" 2>>"$work/trent.err" &
	pid=$!
	endpoint=
	for _ in $(seq 600); do
		endpoint=$(sed -n 's/^ *endpoint: *//p' "$work/trent.out" | head -n 1)
		[[ -n $endpoint ]] && break
		sleep 0.05
	done
	[[ -n $endpoint ]] || { log "trent did not start"; cat "$work/trent.err" >&2; exit 1; }
	"$work/loadgen" -endpoint "$endpoint" -op DescribeKey -key "$key" -requests 1 -concurrency 1 -duration 10s >/dev/null
	started_ms=$((($(date +%s%N) - t0) / 1000000))
}
stop() {
	kill -TERM "$pid"
	wait "$pid" || true
	pid=
}
# measure OP: req/s and p99 of OP against $key, server pinned.
measure() {
	"${pin_gen[@]}" "$work/loadgen" -endpoint "$endpoint" -op "$1" -key "$key" -duration "$DURATION" -json
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# Fill in the measured key and nine more.
mkdir -p "$work/data"
key=
start_plain() {
	"$work/trent" serve --listen 127.0.0.1:0 --data "$work/data" >"$work/trent.out" 2>>"$work/trent.err" &
	pid=$!
	for _ in $(seq 600); do
		endpoint=$(sed -n 's/^ *endpoint: *//p' "$work/trent.out" | head -n 1)
		[[ -n $endpoint ]] && return
		sleep 0.05
	done
	log "trent did not start"
	exit 1
}
start_plain
key=$("$work/loadgen" -endpoint "$endpoint" -op Encrypt -requests 1 -concurrency 1 -duration 10s -json | sed -n 's/.*"key":"\([^"]*\)".*/\1/p')
"$work/loadgen" -endpoint "$endpoint" -op CreateKey -requests 9 -concurrency 1 -duration 30s >/dev/null
stop
[[ -n $key ]] || { log "could not find a key to measure"; exit 1; }

start pinned
small_enc=$(measure Encrypt)
small_desc=$(measure DescribeKey)
stop

log "filling the store to $KEYS keys"
start_plain
have=10
fill_start=$(date +%s)
while ((have < KEYS)); do
	n=$((KEYS - have))
	out=$("$work/loadgen" -endpoint "$endpoint" -op CreateKey -requests "$n" -concurrency 128 -duration 120s -json)
	got=$(echo "$out" | field ok)
	have=$((have + ${got%.*}))
	log "$have keys"
done
fill_secs=$(($(date +%s) - fill_start))
stop
db_mb=$(($(stat -c %s "$work/data/trent.db") / 1048576))

start pinned
startup_ms=$started_ms
big_enc=$(measure Encrypt)
big_desc=$(measure DescribeKey)
rss=$(rss_kb "$pid")
stop

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
se=$(echo "$small_enc" | field rps); be=$(echo "$big_enc" | field rps)
sd=$(echo "$small_desc" | field rps); bd=$(echo "$big_desc" | field rps)
cat <<EOF2
## trent at scale, $(date -u '+%Y-%m-%d %H:%M UTC')

- machine: $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1) ($(nproc) CPUs), $(uname -sr)
- $("$GO" version | cut -d' ' -f3-), trent $(git rev-parse --short HEAD 2>/dev/null || echo unknown)
- server pinned to one CPU with GOMAXPROCS=1, generator on the other; $DURATION per figure

| | 10 keys | $KEYS keys | ratio |
|---|---:|---:|---:|
| Encrypt 1 KiB req/s | $se | $be | $(ratio "$be" "$se") |
| DescribeKey req/s | $sd | $bd | $(ratio "$bd" "$sd") |

- filling the store: $KEYS keys through CreateKey in ${fill_secs}s (128 connections, both CPUs)
- store file: ${db_mb} MiB
- start-up with $KEYS keys: ${startup_ms} ms (exec to the first answered request)
- resident memory after the measurements: $((rss / 1024)) MiB
EOF2
