#!/usr/bin/env bash
# test_symbols.sh — goc's libraries export the public API and nothing else.
#
# Usage: tests/test_symbols.sh SOURCE_DIR BUILD_DIR
#
# Every global symbol defined in libgoc.a and in libgoc.so must be a name
# that the public headers (include/goc.h, include/goc/*.h) declare; internal
# names (the goc__ prefix) must not be visible at all, so a user's program
# may define any name of its own, "netpoll" or "goc__park" alike, and still
# link statically. Prints "ok: ..." per library and "FAIL: ..." with the
# offending symbols.
set -uo pipefail
src=${1:?usage: test_symbols.sh SOURCE_DIR BUILD_DIR}
build=${2:?usage: test_symbols.sh SOURCE_DIR BUILD_DIR}
NM=${NM:-nm}
command -v "$NM" >/dev/null || { echo "SKIP: $NM not found (apt-get install -y binutils)"; exit 0; }

public=$(mktemp)
trap 'rm -f "$public"' EXIT
grep -rhoE '\bgoc_[A-Za-z0-9_]+' "$src/include" | grep -v '^goc__' | sort -u >"$public"
[ -s "$public" ] || { echo "FAIL: no public names found under $src/include"; exit 1; }

failures=0
check() { # LIBRARY NM-ARGS...
	local lib=$1; shift
	[ -f "$lib" ] || { echo "FAIL: $lib not built"; failures=$((failures + 1)); return; }
	local bad
	# __start_/__stop_goc_*: the linker's bounds of goc's own sections
	# (src/alloc/alloc.h), listed in .dynsym by ld but hidden.
	bad=$("$NM" "$@" "$lib" 2>/dev/null | awk 'NF >= 3 && $2 ~ /^[A-TV-Z]$/ {print $3}' |
		sed 's/@.*//' | grep -vE '^__(start|stop)_goc_' | sort -u | comm -23 - "$public")
	if [ -n "$bad" ]; then
		echo "FAIL: $(basename "$lib") exports names the public headers do not declare:"
		echo "$bad" | sed 's/^/    /'
		failures=$((failures + 1))
	else
		echo "ok: every global symbol of $(basename "$lib") is declared in include/"
	fi
}
check "$build/libgoc.a" -g --defined-only
check "$(ls "$build"/libgoc.so.*.*.* 2>/dev/null | head -1)" -D --defined-only

# The defect this guards against, end to end: a program with its own
# netpoll() and goc__park() links against libgoc.a and runs.
CC=${CC:-cc}
if command -v "$CC" >/dev/null; then
	work=$(mktemp -d)
	cat >"$work/own_names.c" <<'PROG'
#include <goc.h>
#include <stdio.h>
int netpoll(void) { return 7; }
int goc__park(void) { return 8; }
int acquirep;
static void hello(void *arg) { *(int *)arg = netpoll() + goc__park(); }
int main(void) { int v = 0; goc_main(hello, &v); printf("%d\n", v); return v == 15 ? 0 : 1; }
PROG
	if "$CC" -I"$src/include" "$work/own_names.c" "$build/libgoc.a" -o "$work/own_names" \
		-lpthread -ldl -ldw -lz >"$work/log" 2>&1 &&
		"$work/own_names" >/dev/null; then
		echo "ok: a program defining netpoll, goc__park and acquirep links statically and runs"
	else
		echo "FAIL: a program with its own netpoll/goc__park does not link against libgoc.a:"
		sed 's/^/    /' "$work/log"
		failures=$((failures + 1))
	fi
	rm -rf "$work"
fi
[ "$failures" = 0 ]
