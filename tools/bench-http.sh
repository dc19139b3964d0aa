#!/bin/sh
# bench-http.sh — HTTPHello: goc's HTTP server against Go's net/http under wrk.
#
#	tools/bench-http.sh [GOC_BENCH]	(default build/bench/goc-bench)
#
# HTTP_RUNS times (default 3), for -procs 1 and -procs 2, starts
# `goc-bench -serve-http 127.0.0.1:0`, loads it with
# `wrk -t2 -c256 -d${HTTP_SECONDS}s --latency` (default 10 s), stops it, and
# does the same with the Go counterpart (bench/go), so that the machine's
# drift hits both alike. wrk's outputs go to
# build/bench-results/http-{goc,go}-procsP-runI.txt; the table printed at the
# end has the median requests/s and p50/p99 latency of each side and the
# ratio goc/Go. Needs wrk (Debian: apt-get install -y wrk); without go only
# goc's side runs.
#
# Exit status 1 if a server or a wrk run failed, 2 on a usage error.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v wrk >/dev/null 2>&1; then
	echo "bench-http.sh: wrk is not installed (apt-get install -y wrk)" >&2
	exit 2
fi
runs=${HTTP_RUNS:-3}
seconds=${HTTP_SECONDS:-10}
. "$root/tools/bench-lib.sh"

rm -f "$results"/http-*-procs*-run*.txt
server_pid=
stop_server() {
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=
	fi
}
trap stop_server EXIT INT TERM

# Starts the server of side with procs Ps (server_pid) and waits until it
# listens (url); 1 if it does not.
start_server() {
	side=$1
	procs=$2
	log=$results/http-$side-server.log
	if [ "$side" = goc ]; then binary=$goc_bench; else binary=$go_bench; fi
	"$binary" -procs "$procs" -serve-http 127.0.0.1:0 >"$log" 2>&1 &
	server_pid=$!
	tries=0
	url=
	while [ -z "$url" ]; do
		tries=$((tries + 1))
		if [ "$tries" -gt 100 ] || ! kill -0 "$server_pid" 2>/dev/null; then
			echo "bench-http.sh: the $side server did not start; its output:" >&2
			cat "$log" >&2
			return 1
		fi
		sleep 0.1
		url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$log")
	done
}

failed=0
for i in $(seq "$runs"); do
	for procs in 1 2; do
		for side in $sides; do
			out=$results/http-$side-procs$procs-run$i.txt
			echo "bench-http.sh: run $i of $runs, -procs $procs: $side" >&2
			if ! start_server "$side" "$procs"; then
				failed=1
				stop_server
				continue
			fi
			if ! wrk -t2 -c256 -d"${seconds}s" --latency "$url" >"$out" 2>&1 ||
				! grep -q '^Requests/sec' "$out"; then
				echo "bench-http.sh: wrk failed; its output is in $out" >&2
				failed=1
			elif grep -q 'Non-2xx\|Socket errors' "$out"; then
				echo "bench-http.sh: warning: errors in $out:" \
					"$(grep 'Non-2xx\|Socket errors' "$out")" >&2
			fi
			stop_server
		done
	done
done

# wrk prints "Requests/sec: N" and, under "Latency Distribution", lines
# "50%  1.23ms" with a unit of us, ms or s.
for f in "$results"/http-*-procs*-run*.txt; do
	[ -s "$f" ] || continue
	name=${f##*/http-}
	awk -v name="${name%.txt}" '
	function us(v) {
		if (v ~ /us$/) return v + 0
		if (v ~ /ms$/) return v * 1000
		if (v ~ /s$/) return v * 1000000
		return v + 0
	}
	/^Requests\/sec:/ { rps = $2 }
	$1 == "50%" { p50 = us($2) }
	$1 == "99%" { p99 = us($2) }
	END { if (rps != "") print name, rps, p50, p99 }' "$f"
done | awk -v runs="$runs" -v seconds="$seconds" '
{
	split($1, part, "-")        # side, procsP, runI
	side = part[1]
	procs = substr(part[2], 6)
	n = ++count[side, procs]
	v["rps", side, procs, n] = $2
	v["p50", side, procs, n] = $3
	v["p99", side, procs, n] = $4
	if (!(procs in seen)) { seen[procs] = 1; procs_list[++np] = procs }
}
function median(metric, side, procs,    n, i, j, a, t) {
	n = count[side, procs]
	if (!n) return ""
	for (i = 1; i <= n; i++) a[i] = v[metric, side, procs, i]
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
END {
	printf "\nHTTPHello under wrk -t2 -c256 -d%ss, median of %s run(s) per side; raw outputs in build/bench-results/http-*.txt\n", seconds, runs
	printf "ratio = goc / Go: for requests/s higher is better, for latencies lower is better.\n\n"
	printf "%-14s %5s %14s %14s %8s\n", "metric", "procs", "goc", "Go", "goc/Go"
	split("rps p50 p99", metrics, " ")
	split("requests/s p50-us p99-us", labels, " ")
	for (m = 1; m <= 3; m++)
		for (k = 1; k <= np; k++) {
			procs = procs_list[k]
			a = median(metrics[m], "goc", procs)
			b = median(metrics[m], "go", procs)
			printf "%-14s %5s %14s %14s %8s\n", labels[m], procs,
				a == "" ? "-" : sprintf("%.0f", a), b == "" ? "-" : sprintf("%.0f", b),
				a == "" || b == "" || b == 0 ? "-" : sprintf("%.2f", a / b)
		}
}'
exit "$failed"
