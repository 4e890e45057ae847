#!/usr/bin/env bash
# Runs every benchmark of the module, summarises them with benchstat, then
# runs the comparison with sony/gobreaker (bench/compare) in several
# processes, then the load program. Results go to bench/out/ (bench.txt,
# benchstat.txt, compare.txt, ratios.txt, load.txt).
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
#   COMPARE_PROCS  processes of the gobreaker comparison (default 7)
#   SKIP_BENCH=1   skip the benchmarks; SKIP_COMPARE=1 the comparison;
#   SKIP_LOAD=1    the load run
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

# ratios reads the output of several processes of bench/compare, each
# introduced by a "# process" line, and prints for every benchmark its
# median time and its ratio to gobreaker's Execute (a Parallel benchmark:
# to its own serial benchmark) computed within each process, as the median
# and the range over the processes. Within one process the rows share the
# machine's state; between processes the whole machine drifts.
ratios() {
	awk '
	/^# process/ { p++ }
	/^Benchmark/ {
		n = $1; sub(/^Benchmark/, "", n); sub(/-[0-9]+$/, "", n)
		if (!(n in seen)) { seen[n] = 1; order[++k] = n }
		ns[p, n] = $3; allocs[n] = $7
	}
	function median(a, m,   i, j, t) {
		for (i = 2; i <= m; i++) for (j = i; j > 1 && a[j-1] > a[j]; j--) { t = a[j]; a[j] = a[j-1]; a[j-1] = t }
		return m % 2 ? a[(m+1)/2] : (a[m/2] + a[m/2+1]) / 2
	}
	END {
		printf "%-28s %10s %9s  %-13s %-11s %s\n", "benchmark", "ns/op", "ratio", "range", "allocs/op", "ratio to"
		for (i = 1; i <= k; i++) {
			n = order[i]; base = "GobreakerExecute"
			if (n ~ /Parallel$/) { base = n; sub(/Parallel$/, "", base) }
			m = 0; rn = 0
			for (q = 1; q <= p; q++) {
				if (!((q, n) in ns)) continue
				t[++m] = ns[q, n]
				if ((q, base) in ns) r[++rn] = ns[q, n] / ns[q, base]
			}
			rm = rn ? median(r, rn) : 0; lo = rn ? r[1] : 0; hi = rn ? r[rn] : 0
			printf "%-28s %10.1f %8.2fx  %.2f-%.2fx    %-11s %s\n", n, median(t, m), rm, lo, hi, allocs[n], (n == base ? "" : base)
			delete t; delete r; rn = 0
		}
		printf "(%d processes)\n", p
	}'
}

if [[ ${SKIP_COMPARE:-} != 1 ]]; then
	procs=${COMPARE_PROCS:-7}
	echo "== bench/compare: $procs processes" >&2
	(cd bench/compare && go test -c -o "$root/$out/compare.test" .)
	machine >"$out/compare.txt"
	for ((i = 1; i <= procs; i++)); do
		echo "# process $i" >>"$out/compare.txt"
		if ! "$out/compare.test" -test.run '^$' -test.bench . -test.benchmem -test.count=1 >>"$out/compare.txt"; then
			status=1
			echo "!! bench/compare failed; see $out/compare.txt" >&2
		fi
	done
	ratios <"$out/compare.txt" | tee "$out/ratios.txt"
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
