#!/bin/sh
# build-go-bench.sh — builds the Go counterpart of goc-bench (bench/go) into
# build/bench-go/gocbench-go and prints its path. Without go installed it
# says so on stderr and exits 1 (callers then run goc's side alone).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
go_bench=$root/build/bench-go/gocbench-go
if ! command -v go >/dev/null 2>&1; then
	echo "$(basename "$0"): go is not installed, so the Go side is skipped" \
		"(to install it: apt-get install -y golang-go)" >&2
	exit 1
fi
echo "$(basename "$0"): building the Go counterpart: $go_bench" >&2
(cd "$root/bench/go" &&
	GOCACHE=${GOCACHE:-/tmp/gocache} GOPROXY=off GOFLAGS=-mod=mod go build -o "$go_bench" .)
echo "$go_bench"
