#!/usr/bin/env bash
# Runs every benchmark of the module, summarises them with benchstat, then
# runs the load program. Results go to bench/out/ (bench.txt, benchstat.txt,
# load.txt).
#
# Environment:
#   BENCH_PKGS     packages to benchmark            (default ./...)
#   BENCH_COUNT    -count of go test                (default 6)
#   BENCH_TIME     -benchtime of go test            (default: go test's 1s)
#   BENCH_FILTER   -bench regexp                    (default .)
#   LOAD_DURATION  -duration of each load phase     (default 30s)
#   LOAD_GOROUTINES -goroutines of the load phases  (default 8)
#   LOAD_ARGS      extra flags for every load phase (e.g. "-rate 100000")
#   DELIVERY_RATE  calls/s of the delivery phase, against tripswitch-local
#                  in a process of its own              (default 200000)
#   DELIVERY_DURATION  length of the delivery phases    (default 60s)
#   SKIP_BENCH=1   skip the benchmarks; SKIP_LOAD=1 skip the load run
set -euo pipefail

# Pinned: golang.org/x/perf has no tagged releases.
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
out=bench/out
mkdir -p "$out"

BENCH_PKGS=${BENCH_PKGS:-./...}
BENCH_COUNT=${BENCH_COUNT:-6}
BENCH_FILTER=${BENCH_FILTER:-.}
LOAD_DURATION=${LOAD_DURATION:-30s}
LOAD_GOROUTINES=${LOAD_GOROUTINES:-8}
LOAD_ARGS=${LOAD_ARGS:-}

machine() {
	echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "# $(go version)"
	echo "# nproc $(nproc 2>/dev/null || echo '?'), $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n1)"
	echo "# $(uname -srm)"
	echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$([[ -z $(git --no-optional-locks status --porcelain 2>/dev/null) ]] || echo ' (with uncommitted changes)')"
}

benchstat_cmd() {
	if command -v benchstat >/dev/null 2>&1; then
		echo benchstat
		return
	fi
	local bin="$root/$out/bin"
	if [[ ! -x $bin/benchstat ]]; then
		echo "installing benchstat $BENCHSTAT_VERSION into $out/bin" >&2
		GOBIN="$bin" GOFLAGS= go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION" >&2
	fi
	echo "$bin/benchstat"
}

status=0

if [[ ${SKIP_BENCH:-} != 1 ]]; then
	args=(test -run '^$' -bench "$BENCH_FILTER" -benchmem -count="$BENCH_COUNT")
	if [[ -n ${BENCH_TIME:-} ]]; then
		args+=(-benchtime="$BENCH_TIME")
	fi
	echo "== go ${args[*]} $BENCH_PKGS" >&2
	machine >"$out/bench.txt"
	# A package that fails does not stop the others; the run fails at the end.
	# shellcheck disable=SC2086 # BENCH_PKGS is a list of patterns
	if ! go "${args[@]}" $BENCH_PKGS >>"$out/bench.txt"; then
		status=1
		echo "!! go test failed; see $out/bench.txt" >&2
		grep -E '^(FAIL|--- FAIL|panic:)' "$out/bench.txt" >&2 || true
	fi
	echo "== benchstat $out/bench.txt" >&2
	bs=$(benchstat_cmd)
	"$bs" "$out/bench.txt" | tee "$out/benchstat.txt"
fi

if [[ ${SKIP_LOAD:-} != 1 ]]; then
	go build -o "$out/load" ./bench/load
	: >"$out/load.txt"
	for mode in "" "-prepared"; do
		echo "== load -duration $LOAD_DURATION -goroutines $LOAD_GOROUTINES $mode $LOAD_ARGS" >&2
		# shellcheck disable=SC2086 # LOAD_ARGS is a list of flags
		"$out/load" -duration "$LOAD_DURATION" -goroutines "$LOAD_GOROUTINES" $mode $LOAD_ARGS | tee -a "$out/load.txt"
		echo | tee -a "$out/load.txt"
	done
	# Delivery: the server in a process of its own, first paced at
	# DELIVERY_RATE (every sample must arrive), then at saturation.
	go build -o "$out/tripswitch-local" ./cmd/tripswitch-local
	for rate in "${DELIVERY_RATE:-200000}" 0; do
		args=(-server "$out/tripswitch-local" -prepared -goroutines 4 -buffer 100000 -rate "$rate" -duration "${DELIVERY_DURATION:-60s}")
		echo "== load ${args[*]}" >&2
		"$out/load" "${args[@]}" | tee -a "$out/load.txt"
		echo | tee -a "$out/load.txt"
	done
fi

exit "$status"
