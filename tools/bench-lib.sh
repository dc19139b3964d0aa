# bench-lib.sh — what bench-compare.sh and bench-http.sh share; sourced
# after `set -eu` and root= are set, reading the script's $1. Sets:
#   goc_bench  the goc-bench to run: $1 or build/bench/goc-bench, made
#              absolute (exits 2 if it is not an executable)
#   go_bench   the Go counterpart, built from bench/go into build/bench-go/
#   sides      "goc go", or "goc" when go is not installed
#   results    build/bench-results/ (created)
me=$(basename "$0")
goc_bench=${1:-build/bench/goc-bench}
case $goc_bench in
/*) ;;
*) goc_bench=$(pwd)/$goc_bench ;;
esac
if [ ! -x "$goc_bench" ]; then
	echo "$me: $goc_bench is not an executable; build goc-bench first" >&2
	exit 2
fi
results=$root/build/bench-results
mkdir -p "$results"
go_bench=$root/build/bench-go/gocbench-go
if command -v go >/dev/null 2>&1; then
	echo "$me: building the Go counterpart: $go_bench" >&2
	(cd "$root/bench/go" &&
		GOCACHE=${GOCACHE:-/tmp/gocache} GOPROXY=off GOFLAGS=-mod=mod go build -o "$go_bench" .)
	sides="goc go"
else
	echo "$me: go is not installed, so the Go side is skipped" \
		"(to install it: apt-get install -y golang-go)" >&2
	sides="goc"
fi
