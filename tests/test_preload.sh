#!/bin/sh
# test_preload.sh LIB CHECK — libgoc-malloc.so as the malloc of programs
# that know nothing of goc: preload_check (goc counts its allocations,
# threads, aligned functions, fork), then real programs to completion:
# ls -lR /usr and python3 building, dumping and parsing JSON on threads.
set -eu
lib=$1
check=$2
LD_PRELOAD=$lib "$check"
LD_PRELOAD=$lib ls -lR /usr >/dev/null 2>&1 || { echo "FAIL: ls -lR /usr"; exit 1; }
echo "ok: ls -lR /usr"
LD_PRELOAD=$lib sh -c 'for i in 1 2 3 4; do (echo "$i" | cat >/dev/null) & done; wait' ||
	{ echo "FAIL: sh with forks"; exit 1; }
echo "ok: sh with forks"
if command -v python3 >/dev/null; then
	LD_PRELOAD=$lib python3 -c '
import json, threading
def work(n):
    d = [{"k": i, "v": [str(j) for j in range(40)]} for i in range(n)]
    assert json.loads(json.dumps(d)) == d
ts = [threading.Thread(target=work, args=(5000,)) for _ in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
work(20000)
' || { echo "FAIL: python3"; exit 1; }
	echo "ok: python3 json on threads"
else
	echo "skip: python3 not installed (apt-get install -y python3)"
fi
