#!/bin/sh
# deps.sh PURPOSE — makes sure the Debian packages PURPOSE needs are
# installed. As root it installs what is missing with apt-get; otherwise it
# prints the exact apt-get line and fails.
#   build    compilers, CMake, pkg-config, valgrind headers, sanitizer runtimes,
#            libdw (elfutils) for symbolized stack traces, gdb for its test,
#            zlib for gzipped pprof profiles, libxxhash for the map's hash
#   bench    build + Go and x/time/rate (for the side-by-side comparison), wrk,
#            and the allocators goc's heap is compared with (jemalloc, tcmalloc,
#            mimalloc)
#   aarch64  build + the aarch64 cross compiler and qemu-user
#   fuzz     build + clang with its libFuzzer and sanitizer runtimes
#   pprof    build + Go, whose go tool pprof the profile tests run
#   observe  build + the tools that read what goc's observability writes:
#            Go (go tool trace, go tool pprof), Prometheus (promtool and
#            the server), bpftrace, and sys/sdt.h for the USDT probes
set -eu
purpose=${1:-build}
pkgs="gcc make cmake pkg-config libc6-dev valgrind libdw-dev gdb zlib1g-dev libxxhash-dev"
case "$purpose" in
build) ;;
bench) pkgs="$pkgs golang-go golang-golang-x-time-dev wrk libjemalloc2 libtcmalloc-minimal4 libmimalloc2.0" ;;
aarch64) pkgs="$pkgs gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user" ;;
fuzz) pkgs="$pkgs clang libclang-rt-dev" ;;
pprof) pkgs="$pkgs golang-go" ;;
observe) pkgs="$pkgs golang-go prometheus bpftrace systemtap-sdt-dev" ;;
*) echo "deps.sh: unknown purpose '$purpose'" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	echo "deps.sh: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing >/dev/null
else
	echo "deps.sh: missing Debian packages:$missing" >&2
	echo "deps.sh: run as root:  apt-get install -y$missing" >&2
	exit 1
fi
