#!/bin/sh
# bench-compare.sh — goc against Go on the same workloads, measured in turn.
#
#	tools/bench-compare.sh [GOC_BENCH]	(default build/bench/goc-bench)
#
# Builds the Go counterpart (bench/go) into build/bench-go/, then BENCH_RUNS
# times (default 3), for -procs 1 and -procs 2, runs goc-bench and then the
# Go program, so that the machine's drift hits both alike. Every run gets
# -run "$BENCH_RUN" (default .) and -scale "$BENCH_SCALE" (default 1). Raw
# outputs go to build/bench-results/{goc,go}-procsP-runI.txt; the table
# printed at the end has, per workload, metric and -procs, the median of
# each side and the ratio goc/Go, for the workloads both sides printed.
# Without go installed only goc's medians are shown.
#
# Exit status 1 if any run failed (the table still covers what the other
# runs printed), 2 on a usage error.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
pattern=${BENCH_RUN:-.}
scale=${BENCH_SCALE:-1}
runs=${BENCH_RUNS:-3}
. "$root/tools/bench-lib.sh"

# The machine is small and shared: say so if something else is using the
# CPUs, since it skews every figure.
cpu_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
if [ -r /proc/stat ]; then
	idle_check=$(cpu_ticks)
	sleep 1
	echo "$idle_check $(cpu_ticks)" | awk '$4 > $2 && ($3 - $1) / ($4 - $2) > 0.1 {
		printf "bench-compare.sh: warning: the CPUs were %.0f%% busy before the start; expect noisy results\n", 100 * ($3 - $1) / ($4 - $2) > "/dev/stderr"
	}'
fi

rm -f "$results"/goc-procs*-run*.txt "$results"/go-procs*-run*.txt
failed=0
for i in $(seq "$runs"); do
	for procs in 1 2; do
		for side in $sides; do
			if [ "$side" = goc ]; then binary=$goc_bench; else binary=$go_bench; fi
			out=$results/$side-procs$procs-run$i.txt
			side_pattern=$pattern
			if [ "$side" = go ] && [ -s "$results/goc-procs$procs-run$i.txt" ]; then
				# Only what goc ran: the Go suite has workloads goc has not
				# implemented yet, and running them only costs time.
				side_pattern="^($(awk '/^Benchmark/ { n = substr($1, 10); sub(/-[0-9]+$/, "", n); printf "%s%s", sep, n; sep = "|" }' \
					"$results/goc-procs$procs-run$i.txt"))\$"
			fi
			echo "bench-compare.sh: run $i of $runs, -procs $procs: $side" >&2
			if ! "$binary" -procs "$procs" -run "$side_pattern" -scale "$scale" >"$out"; then
				echo "bench-compare.sh: that run failed; what it printed is in $out" >&2
				failed=1
			fi
		done
	done
done

set --
for side in $sides; do
	set -- "$@" "$results/$side"-procs*-run*.txt
done
# The files are named side-procsP-runI.txt, goc's first so that the table
# follows its order; a result line's name is
# BenchmarkWorkload-P, followed by ops and then "value unit" pairs.
awk -v sides="$sides" -v runs="$runs" -v scale="$scale" -v pattern="$pattern" '
FNR == 1 {
	side = FILENAME
	sub(/.*\//, "", side)
	sub(/-.*/, "", side)
}
/^Benchmark/ {
	name = substr($1, 10)
	if (!match(name, /-[0-9]+$/))
		next
	workload = substr(name, 1, RSTART - 1)
	procs = substr(name, RSTART + 1)
	printed[side, workload] = 1
	if (!((workload, procs) in seen_procs)) {
		seen_procs[workload, procs] = 1
		procs_list[workload] = procs_list[workload] " " procs
	}
	if (!(workload in seen_workload)) {
		seen_workload[workload] = 1
		workloads[++workload_count] = workload
	}
	for (f = 3; f < NF; f += 2) {
		unit = $(f + 1)
		if (!((workload, unit) in seen_unit)) {
			seen_unit[workload, unit] = 1
			units[workload] = units[workload] " " unit
		}
		key = side SUBSEP workload SUBSEP unit SUBSEP procs
		samples[key, ++count[key]] = $f + 0
	}
}

# median of the count[key] samples of key (mean of the middle two if even).
function median(key,    n, i, j, v, t) {
	n = count[key]
	for (i = 1; i <= n; i++)
		v[i] = samples[key, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
			t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
		}
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}

# about four significant digits, never an exponent.
function show(x,    a) {
	a = x < 0 ? -x : x
	if (a >= 1000) return sprintf("%.0f", x)
	if (a >= 100) return sprintf("%.1f", x)
	if (a >= 10) return sprintf("%.2f", x)
	return sprintf("%.3f", x)
}

END {
	with_go = sides ~ /go$/
	printf "\nMedian of each side over %d run(s), -scale %s, -run %s; raw outputs in build/bench-results/\n", runs, scale, pattern
	if (with_go) {
		print "ratio = goc / Go. For ns/op, KB/goroutine, overshoot-ms, p50-us and p99-us lower is"
		print "better (ratio < 1: goc is better); for ops/s higher is better (ratio > 1: goc is better)."
		printf "\n%-20s %-13s %5s %12s %12s %8s\n", "workload", "metric", "procs", "goc", "Go", "goc/Go"
	} else {
		print "Lower is better for ns/op, KB/goroutine, overshoot-ms, p50-us and p99-us; higher for ops/s."
		printf "\n%-20s %-13s %5s %12s\n", "workload", "metric", "procs", "goc"
	}
	for (w = 1; w <= workload_count; w++) {
		workload = workloads[w]
		if (!(("goc", workload) in printed) || (with_go && !(("go", workload) in printed))) {
			only = only " " workload
			continue
		}
		unit_count = split(units[workload], unit_of, " ")
		procs_count = split(procs_list[workload], procs_of, " ")
		for (u = 1; u <= unit_count; u++)
			for (p = 1; p <= procs_count; p++) {
				goc_key = "goc" SUBSEP workload SUBSEP unit_of[u] SUBSEP procs_of[p]
				go_key = "go" SUBSEP workload SUBSEP unit_of[u] SUBSEP procs_of[p]
				if (!(goc_key in count))
					continue
				goc = median(goc_key)
				if (!with_go) {
					printf "%-20s %-13s %5s %12s\n", workload, unit_of[u], procs_of[p], show(goc)
					continue
				}
				if (!(go_key in count))
					continue
				go = median(go_key)
				# A ratio of values of different signs (overshoot
				# at tiny scales) or over zero means nothing.
				ratio = goc > 0 && go > 0 ? sprintf("%.2f", goc / go) : "-"
				printf "%-20s %-13s %5s %12s %12s %8s\n", workload, unit_of[u], procs_of[p], show(goc), show(go), ratio
			}
	}
	if (only != "")
		printf "\nNot compared, printed by one side only:%s\n", only
}' "$@"

exit "$failed"
