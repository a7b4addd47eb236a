#!/usr/bin/env bash
# bench/run.sh: trent's data plane next to the ceiling of a plain Go
# net/http JSON server, in the same run, with the same load generator.
# See bench/README.md. Usage: bench/run.sh   (or: make bench)
#
# Environment:
#   BENCH_DURATION     length of each measurement (default 10s, at most 120s)
#   BENCH_CONCURRENCY  connections of the generator (default 32)
#   BENCH_MODES        "pinned unpinned" (default), or one of them
#   BENCH_HALF_RATE_MODES  modes that also measure p99 at half the maximum
#                      rate (default "pinned", where the target is set;
#                      "pinned unpinned" for both, about 3 minutes more)
#   BENCH_SERVER_CPU   CPU the server is pinned to (default 0)
#   BENCH_GEN_CPU      CPU the generator is pinned to (default 1)
#   BENCH_OPS          operations to measure, comma-separated, as loadgen -op
#                      names them (default: every row; "ceiling,Encrypt" for
#                      a quick A/B comparison with TRENT_BIN)
#   BENCH_STORE        bbolt (default: trent's embedded store, as dev mode
#                      runs it) or postgres (a throw-away, durable PostgreSQL
#                      15 started by bench/pgserver; needs what make deps
#                      installs)
#   TRENT_BIN          a trent binary to measure instead of building ./cmd/trent
#   GO                 the go command (default go)
#
# Progress goes to stderr; the tables go to stdout. Everything listens on
# 127.0.0.1 only, and every measurement is bounded in time.
set -euo pipefail

DURATION=${BENCH_DURATION:-10s}
CONCURRENCY=${BENCH_CONCURRENCY:-32}
MODES=${BENCH_MODES:-pinned unpinned}
HALF_RATE_MODES=${BENCH_HALF_RATE_MODES:-pinned}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
GEN_CPU=${BENCH_GEN_CPU:-1}
GO=${GO:-go}
STORE=${BENCH_STORE:-bbolt}
[[ $STORE == bbolt || $STORE == postgres ]] || { echo "bench: BENCH_STORE=$STORE: want bbolt or postgres" >&2; exit 1; }

cd "$(dirname "$0")/.."

log() { echo "bench: $*" >&2; }
die() { log "$*"; exit 1; }

# Seconds in a Go-style duration of the forms the script accepts: 10s, 1500ms, 1m.
case $DURATION in
	*ms) secs=$(( (${DURATION%ms} + 999) / 1000 )) ;;
	*s) secs=${DURATION%s} ;;
	*m) secs=$(( ${DURATION%m} * 60 )) ;;
	*) secs= ;;
esac
[[ $secs =~ ^[0-9]+$ && $secs -ge 1 && $secs -le 120 ]] ||
	die "BENCH_DURATION=$DURATION: want 1s to 120s, such as 10s, 1500ms or 1m"

# What is measured: label, operation, key spec, and whether to measure p99
# at half the maximum rate (the data plane, and the ceiling to compare).
# Operations trent does not answer yet are reported as n/a.
OPS=(
	"ceiling|ceiling||half"
	"Encrypt 1 KiB|Encrypt||half"
	"Decrypt 1 KiB|Decrypt||half"
	"GenerateDataKey|GenerateDataKey||half"
	"DescribeKey|DescribeKey||"
	"GenerateMac HMAC_256|GenerateMac|HMAC_256|half"
	"Sign ECC_NIST_P256|Sign|ECC_NIST_P256|half"
	"Verify ECC_NIST_P256|Verify|ECC_NIST_P256|half"
	"Sign ECC_NIST_EDWARDS25519|Sign|ECC_NIST_EDWARDS25519|half"
	"Verify ECC_NIST_EDWARDS25519|Verify|ECC_NIST_EDWARDS25519|half"
	"Sign RSA_2048|Sign|RSA_2048|half"
	"CreateKey|CreateKey||"
)
if [[ -n ${BENCH_OPS:-} ]]; then
	selected=()
	for entry in "${OPS[@]}"; do
		IFS='|' read -r _ op _ _ <<<"$entry"
		[[ ",$BENCH_OPS," == *",$op,"* ]] && selected+=("$entry")
	done
	((${#selected[@]} > 0)) || die "BENCH_OPS=$BENCH_OPS selects no row"
	OPS=("${selected[@]}")
fi

# A measurement takes its duration plus about a second of setup.
runs=0
for mode in $MODES; do
	for entry in "${OPS[@]}"; do
		runs=$((runs + 1))
		[[ $entry == *"|half" && " $HALF_RATE_MODES " == *" $mode "* ]] && runs=$((runs + 1))
	done
done
budget=$((runs * (secs + 1) + 60))
if ((budget > 600)); then
	log "warning: with BENCH_DURATION=$DURATION this run takes about $((budget / 60)) minutes"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/trent-bench.XXXXXX")
pids=()
cleanup() {
	for pid in "${pids[@]}"; do
		kill "$pid" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building trent, ceiling and loadgen"
if [[ -n ${TRENT_BIN:-} ]]; then
	cp "$TRENT_BIN" "$work/trent"
else
	"$GO" build -o "$work/trent" ./cmd/trent
fi
"$GO" build -o "$work/ceiling" ./bench/ceiling
"$GO" build -o "$work/loadgen" ./bench/loadgen
[[ $STORE == postgres ]] && "$GO" build -o "$work/pgserver" ./bench/pgserver

# CPU split. Pinned: the server on one core with GOMAXPROCS=1, the
# generator on another. Without taskset (util-linux) or a second CPU, the
# pinned mode falls back to GOMAXPROCS=1 for both, unpinned.
pinning=taskset
if ! command -v taskset >/dev/null; then
	log "warning: taskset not found (Debian: apt-get install util-linux); the 'pinned' mode only sets GOMAXPROCS=1"
	pinning=none
elif ! taskset -c "$SERVER_CPU" true 2>/dev/null || ! taskset -c "$GEN_CPU" true 2>/dev/null ||
	[[ $SERVER_CPU == "$GEN_CPU" ]]; then
	log "warning: cannot pin to CPUs $SERVER_CPU and $GEN_CPU (nproc: $(nproc)); the 'pinned' mode only sets GOMAXPROCS=1"
	pinning=none
fi

# start NAME CMD...: starts a server, sets $endpoint and $pid.
start() {
	local name=$1
	shift
	"$@" >"$work/$name.out" 2>"$work/$name.err" &
	pid=$!
	pids+=("$pid")
	endpoint=
	for _ in $(seq 100); do
		endpoint=$(sed -n -e 's/^ *endpoint: *//p' -e 's/^trent is serving on *//p' -e 's/^dsn: *//p' "$work/$name.out" | head -n 1)
		[[ -n $endpoint ]] && return
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$work/$name.err" >&2
	die "$name did not start"
}

stop() {
	kill "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# field JSON NAME: a string or number member of loadgen's flat JSON line.
field() {
	sed -n -e 's/.*"'"$2"'":"\([^"]*\)".*/\1/p;t' -e 's/.*"'"$2"'":\([^,}]*\).*/\1/p' <<<"$1"
}

# errors JSON: "0", or the error count and its kinds.
errors_of() {
	local total kinds
	total=$(field "$1" errors_total)
	if [[ ${total:-0} == 0 ]]; then
		echo 0
		return
	fi
	kinds=$(sed -n 's/.*"errors":{\([^}]*\)}.*/\1/p' <<<"$1" | tr -d '"' | sed 's/,/, /g')
	echo "$total ($kinds)"
}

# loadgen ENDPOINT SERVER_PID OP KEYSPEC [ARGS...]: one measurement; prints
# loadgen's JSON line, or "n/a: why" when the server does not support it.
loadgen() {
	local endpoint=$1 server_pid=$2 op=$3 keyspec=$4
	shift 4
	local args=(-endpoint "$endpoint" -server-pid "$server_pid" -op "$op"
		-duration "$DURATION" -concurrency "$CONCURRENCY" -json "$@")
	[[ -n $keyspec ]] && args+=(-keyspec "$keyspec")
	local out status=0
	out=$(timeout $((secs + 120)) "${gen_prefix[@]}" "$work/loadgen" "${args[@]}" 2>"$work/loadgen.err") || status=$?
	case $status in
	0) echo "$out" ;;
	3) echo "n/a: $(field "$out" unsupported)" ;;
	*)
		cat "$work/loadgen.err" >&2
		die "loadgen -op $op failed (exit $status)"
		;;
	esac
}

fmt_ms() { [[ -n $1 ]] && printf '%.3f' "$1" || echo "-"; }

echo "## trent benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//') ($(nproc) CPUs), $(uname -sr)"
echo "- $("$GO" version), trent $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo ' (modified)')"
echo "- each figure: $DURATION, $CONCURRENCY connections, SigV4 + authorisation + audit log on; latencies in ms"
echo "- store: $STORE$([[ $STORE == postgres ]] && echo " (PostgreSQL 15 on this machine, durable, unpinned; trent connects over 127.0.0.1)")"
echo

for mode in $MODES; do
	case $mode in
	pinned)
		if [[ $pinning == taskset ]]; then
			server_prefix=(taskset -c "$SERVER_CPU" env GOMAXPROCS=1)
			gen_prefix=(taskset -c "$GEN_CPU")
			title="pinned: server on CPU $SERVER_CPU with GOMAXPROCS=1, generator on CPU $GEN_CPU"
		else
			server_prefix=(env GOMAXPROCS=1)
			gen_prefix=(env GOMAXPROCS=1)
			title="one core each (GOMAXPROCS=1), NOT pinned: taskset unavailable"
		fi
		;;
	unpinned)
		server_prefix=(env)
		gen_prefix=(env)
		title="unpinned: server and generator share every CPU"
		;;
	*) die "BENCH_MODES: unknown mode $mode" ;;
	esac

	data="$work/data-$mode"
	start ceiling "${server_prefix[@]}" "$work/ceiling" -listen 127.0.0.1:0
	ceiling_ep=$endpoint ceiling_pid=$pid
	if [[ $STORE == postgres ]]; then
		# A fresh database server per split, like the fresh bbolt file.
		start pgserver "$work/pgserver"
		pg_pid=$pid
		mkdir -p "$data" && chmod 700 "$data"
		cat >"$work/trent.json" <<-EOF
			{"listen": "127.0.0.1:0", "data_dir": "$data", "root_key": {"file": "root.key"},
			 "store": {"postgres": {"dsn": "$endpoint"}}, "quotas": {"disabled": true}, "log_format": "text",
			 "accounts": [{"id": "111122223333", "access_keys": [{"id": "test", "secret": "test"}]}]}
		EOF
		chmod 600 "$work/trent.json"
		start trent "${server_prefix[@]}" "$work/trent" serve --config "$work/trent.json"
	else
		start trent "${server_prefix[@]}" "$work/trent" serve --listen 127.0.0.1:0 --data "$data"
	fi
	trent_ep=$endpoint trent_pid=$pid

	rows=()
	ceiling_rps=
	for entry in "${OPS[@]}"; do
		IFS='|' read -r label op keyspec half <<<"$entry"
		if [[ $op == ceiling ]]; then
			ep=$ceiling_ep spid=$ceiling_pid
		else
			ep=$trent_ep spid=$trent_pid
		fi
		log "$mode: $label, maximum rate"
		max=$(loadgen "$ep" "$spid" "$op" "$keyspec")
		if [[ $max == n/a* ]]; then
			log "$mode: $label: $max"
			rows+=("| $label | n/a | | | | | | ${max#n/a: } | |")
			continue
		fi
		rps=$(field "$max" rps)
		[[ $op == ceiling ]] && ceiling_rps=$rps
		ratio=-
		# CreateKey's target is absolute (1,000/s), not a share of the ceiling.
		[[ -n $ceiling_rps && $op != CreateKey ]] && ratio=$(awk -v a="$rps" -v b="$ceiling_rps" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
		errs=$(errors_of "$max")
		p99half=-
		rate=$(awk -v r="$rps" 'BEGIN { printf "%d", r / 2 }')
		if [[ -n $half && " $HALF_RATE_MODES " == *" $mode "* && $rate -gt 0 ]]; then
			log "$mode: $label, p99 at $rate req/s"
			halfrun=$(loadgen "$ep" "$spid" "$op" "$keyspec" -rate "$rate")
			p99half="$(fmt_ms "$(field "$halfrun" p99_ms)") @ $rate/s"
			herrs=$(errors_of "$halfrun")
			[[ $herrs != 0 ]] && errs="$errs; at ½ rate: $herrs"
		fi
		cpu="$(field "$max" srv_cpu_pct)% / $(field "$max" gen_cpu_pct)%"
		[[ $cpu == %* ]] && cpu="- / $(field "$max" gen_cpu_pct)%"
		rows+=("| $label | $(printf '%.0f' "$rps") | $ratio | $(fmt_ms "$(field "$max" p50_ms)") | $(fmt_ms "$(field "$max" p99_ms)") | $(fmt_ms "$(field "$max" p999_ms)") | $p99half | $errs | $cpu |")
		# The audit log grows by about 1 KB a request; start each run empty.
		[[ -f $data/audit.jsonl ]] && : >"$data/audit.jsonl"
	done
	stop "$ceiling_pid"
	stop "$trent_pid"
	[[ $STORE == postgres ]] && stop "$pg_pid"
	rm -rf "$data"

	echo "### $title"
	echo
	echo "| op | req/s | × ceiling | p50 | p99 | p99.9 | p99 at ½ max rate | errors | CPU server / generator |"
	echo "|---|---:|---:|---:|---:|---:|---:|---|---:|"
	printf '%s\n' "${rows[@]}"
	echo
done
