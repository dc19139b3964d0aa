#!/usr/bin/env bash
# test_install.sh — goc builds and links like any other C library.
#
# Usage: tests/test_install.sh BUILD_DIR
#
# Installs an existing build (cmake --install BUILD_DIR) into a temporary
# prefix, then builds a small program outside the source tree against the
# installed copy only, every way a user would:
#   1. pkg-config, shared library (run with LD_LIBRARY_PATH=prefix/lib);
#   2. pkg-config --static, static library (libgoc.a named explicitly, so
#      the linker cannot quietly pick the shared one), which needs the
#      Libs.private flags (-lpthread -ldl) to be right;
#   3. CMake find_package(goc) in a generated project, linking goc::goc;
#   4. the same project linking goc::goc_shared.
# Each program spawns goroutines, passes values over a channel, sleeps,
# and prints a line the script checks. Prints "ok: ..." per step and
# "FAIL: ..." for each step that fails; steps that do not depend on a failed
# one still run, and the exit status is non-zero if any failed. No network,
# no root (pkg-config must be installed: `apt-get install -y pkg-config`).
set -uo pipefail

build=${1:?usage: test_install.sh BUILD_DIR}
build=$(cd "$build" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/goc-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

failures=0
fatal() { echo "FAIL: $*" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

command -v pkg-config >/dev/null || fatal "pkg-config is not installed (apt-get install -y pkg-config)"
cc=${CC:-cc}

cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
	{ cat "$work/install.log"; fatal "cmake --install"; }
libdir=
for d in lib lib64 lib/x86_64-linux-gnu lib/aarch64-linux-gnu; do
	[ -f "$prefix/$d/pkgconfig/goc.pc" ] && libdir=$prefix/$d
done
[ -n "$libdir" ] || fatal "no goc.pc under $prefix"
[ -f "$prefix/include/goc.h" ] || fatal "goc.h not installed"
[ -f "$libdir/libgoc.a" ] || fatal "libgoc.a not installed"
ls "$libdir"/libgoc.so* >/dev/null 2>&1 || fatal "libgoc.so not installed"
[ -f "$libdir/cmake/goc/gocConfig.cmake" ] || fatal "CMake package not installed"
[ -f "$prefix/share/goc/goc-gdb.py" ] || fatal "share/goc/goc-gdb.py (gdb's goroutine commands) not installed"
ok "installed into a temporary prefix"

mkdir -p "$work/app"
cat >"$work/app/hello.c" <<'EOF'
#include <goc.h>
#include <stdio.h>

static goc_chan *results;

static void square(void *arg)
{
	long n = (long)arg;
	goc_sleep(GOC_MILLISECOND);
	long sq = n * n;
	goc_chan_send(results, &sq);
}

static void main_goroutine(void *arg)
{
	(void)arg;
	results = goc_chan_make(sizeof(long), 0);
	for (long i = 1; i <= 10; i++)
		goc_go(square, (void *)i);
	long sum = 0, v;
	for (int i = 0; i < 10; i++) {
		goc_chan_recv(results, &v);
		sum += v;
	}
	goc_chan_release(results);
	printf("goc %s: sum of squares %ld\n", GOC_VERSION, sum);
}

int main(void)
{
	goc_main(main_goroutine, NULL);
	return 0;
}
EOF
want="sum of squares 385"

check_run() { # name, program, [env...]
	local name=$1 prog=$2
	shift 2
	local out
	if ! out=$(env "$@" "$prog" 2>&1); then
		fail "$name: program failed: $out"
		return
	fi
	case $out in
	*"$want"*) ok "$name: $out" ;;
	*) fail "$name: unexpected output: $out" ;;
	esac
}

export PKG_CONFIG_PATH=$libdir/pkgconfig
pkg-config --exists goc || fatal "pkg-config does not find goc"
[ "$(pkg-config --modversion goc)" = "$(sed -n 's/^#define GOC_VERSION "\(.*\)"/\1/p' "$prefix/include/goc.h")" ] ||
	fail "goc.pc version differs from GOC_VERSION"
# The .pc file must describe where the library was installed, not the
# prefix the build was configured with (cmake --install --prefix).
pc_inc=$(pkg-config --variable=includedir goc)
if [ "$(cd "$pc_inc" 2>/dev/null && pwd)" = "$(cd "$prefix/include" && pwd)" ]; then
	ok "goc.pc points into the install prefix"
else
	fail "goc.pc says includedir=$pc_inc, but goc was installed under $prefix"
fi

# shellcheck disable=SC2046
if $cc -std=c11 -o "$work/app/hello_pc" "$work/app/hello.c" $(pkg-config --cflags --libs goc); then
	check_run "pkg-config, shared" "$work/app/hello_pc" LD_LIBRARY_PATH="$libdir"
	# ldd's output is captured first: with pipefail, grep -q quitting early
	# would fail the pipeline through ldd's SIGPIPE.
	deps=$(LD_LIBRARY_PATH="$libdir" ldd "$work/app/hello_pc")
	case "$deps" in
	*"$libdir/libgoc.so"*) ;;
	*) fail "hello_pc is not linked to the installed libgoc.so" ;;
	esac
else
	fail "build with pkg-config --cflags --libs goc"
fi

# A custom prefix with an rpath (README, "A custom prefix"): runs without
# LD_LIBRARY_PATH.
# shellcheck disable=SC2046
if $cc -std=c11 -o "$work/app/hello_rpath" "$work/app/hello.c" $(pkg-config --cflags --libs goc) \
	-Wl,-rpath,"$libdir"; then
	check_run "pkg-config, shared, rpath" "$work/app/hello_rpath" LD_LIBRARY_PATH=
else
	fail "build with an rpath"
fi

static_libs=$(pkg-config --static --libs goc | sed "s/-lgoc\\b//")
# shellcheck disable=SC2046,SC2086
if $cc -std=c11 -o "$work/app/hello_static" "$work/app/hello.c" $(pkg-config --static --cflags goc) \
	"$libdir/libgoc.a" $static_libs; then
	if ldd "$work/app/hello_static" | grep libgoc >/dev/null; then
		fail "hello_static still needs libgoc.so"
	else
		check_run "pkg-config --static" "$work/app/hello_static"
	fi
else
	fail "static build with pkg-config --static"
fi

for variant in goc goc_shared; do
	proj=$work/cmake_$variant
	mkdir -p "$proj"
	cp "$work/app/hello.c" "$proj/"
	cat >"$proj/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(goc_consumer C)
find_package(goc 0.1 REQUIRED)
add_executable(hello hello.c)
target_link_libraries(hello PRIVATE goc::$variant)
EOF
	if ! cmake -S "$proj" -B "$proj/build" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_BUILD_RPATH="$libdir" >"$proj/configure.log" 2>&1; then
		cat "$proj/configure.log"
		fail "find_package(goc) ($variant)"
		continue
	fi
	if ! cmake --build "$proj/build" >"$proj/build.log" 2>&1; then
		cat "$proj/build.log"
		fail "build against goc::$variant"
		continue
	fi
	check_run "CMake find_package, goc::$variant" "$proj/build/hello" LD_LIBRARY_PATH="$libdir"
done

if [ "$failures" -ne 0 ]; then
	echo "FAIL: $failures install check(s) failed" >&2
	exit 1
fi
echo "ok: install test passed"
