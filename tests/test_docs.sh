#!/usr/bin/env bash
# test_docs.sh — docs/ARCHITECTURE.md tells the truth about the tree.
#
# Usage: tests/test_docs.sh SOURCE_DIR
#
# Two checks, each printing "ok: ..." or "FAIL: ..." with what is wrong:
#  1. The source map (section "1. Map of the source") names every file
#     under src/ and include/. A row's first cell lists files in backticks:
#     a path with a folder sets the folder, and bare names after it in the
#     same cell are files of that folder (`src/sync/mutex.c`, `rwmutex.c`).
#  2. Every goc name the document puts in backticks exists in the tree:
#     identifiers starting goc_, goc__ or GOC_ (a trailing * or _ means "any
#     name with this prefix"), and file paths ending in .c, .h, .S, .sh, .py
#     or .md (paths outside the project's folders, such as
#     valgrind/valgrind.h, are system headers and not checked). Go's own names (runqput, findrunnable, ...) are not checked:
#     they name Go's runtime, not ours.
set -uo pipefail
src=${1:?usage: test_docs.sh SOURCE_DIR}
doc=$src/docs/ARCHITECTURE.md
[ -f "$doc" ] || { echo "FAIL: $doc not found"; exit 1; }
failures=0

# 1. the source map
mapped=$(awk '
	/^## 1\. Map of the source/ { in_map = 1; next }
	in_map && /^## / { exit }
	in_map && /^\| `/ {
		split($0, cells, "|"); cell = cells[2]; dir = ""
		while (match(cell, /`[^`]+`/)) {
			name = substr(cell, RSTART + 1, RLENGTH - 2)
			cell = substr(cell, RSTART + RLENGTH)
			if (index(name, "/")) { print name; dir = name; sub(/\/[^\/]*$/, "", dir) }
			else if (dir != "") print dir "/" name
		}
	}' "$doc" | sort -u)
files=$(cd "$src" && { git ls-files src include 2>/dev/null || find src include -type f; } | sort -u)
missing=$(comm -23 <(echo "$files") <(echo "$mapped"))
stale=$(comm -13 <(echo "$files") <(echo "$mapped") | grep -E '^(src|include)/')
if [ -n "$missing" ]; then
	echo "FAIL: files missing from ARCHITECTURE.md's source map:"; echo "$missing" | sed 's/^/    /'
	failures=$((failures + 1))
fi
if [ -n "$stale" ]; then
	echo "FAIL: the source map names files that do not exist:"; echo "$stale" | sed 's/^/    /'
	failures=$((failures + 1))
fi
[ -z "$missing$stale" ] && echo "ok: the source map names all $(echo "$files" | wc -l) files under src/ and include/"

# 2. backticked goc names and paths
trees=()
for d in src include tests bench examples tools cmake docs; do [ -d "$src/$d" ] && trees+=("$src/$d"); done
bad=""
nnames=0
while IFS= read -r name; do
	nnames=$((nnames + 1))
	case "$name" in
	*.c | *.h | *.S | *.sh | *.py | *.md)
		base=${name##*/}
		case "$name" in
		*/*) case "$name" in src/* | include/* | tests/* | bench/* | examples/* | tools/* | docs/* | cmake/*) ;;
			*) continue ;; # a system header such as valgrind/valgrind.h
			esac ;;
		esac
		if [ "$base" = "$name" ]; then
			found=$(find "${trees[@]}" -name "$base" -print -quit)
		else
			found=$([ -e "$src/$name" ] && echo yes)
		fi
		[ -n "$found" ] || bad="$bad$name"$'\n'
		;;
	*'*' | *_)
		prefix=${name%\*}
		grep -rqE "\\b${prefix}[A-Za-z0-9_]*" "${trees[@]}" --include='*.[chS]' --include='*.py' ||
			bad="$bad$name"$'\n'
		;;
	*)
		grep -rqw -- "$name" "${trees[@]}" --include='*.[chS]' --include='*.py' --include='*.txt' \
			--include='*.sh' --include='*.cmake' --include='*.in' || bad="$bad$name"$'\n'
		;;
	esac
done < <(grep -oE '`[^`]+`' "$doc" | tr -d '`' | sed -E 's/\(\)$//' |
	grep -E '^((goc_|goc__|GOC_)[A-Za-z0-9_]*\*?|[A-Za-z0-9_./-]+\.(c|h|S|sh|py|md))$' | sort -u)
if [ -n "$bad" ]; then
	echo "FAIL: ARCHITECTURE.md names things the tree does not have:"; printf '%s' "$bad" | sed 's/^/    /'
	failures=$((failures + 1))
else
	echo "ok: all $nnames goc names and paths the document puts in backticks exist"
fi
[ "$failures" = 0 ]
