#!/bin/bash
# bench-alloc.sh BUILD [RUNS] [SCALE] — goc's heap against glibc, jemalloc,
# tcmalloc and mimalloc, side by side: the C workloads of
# bench/malloc/mallocbench.c (XmallocTest, Larson, CacheScratch) under each
# allocator by LD_PRELOAD (goc's: BUILD/libgoc-malloc.so), and the
# goroutine pipeline (AllocPipeline of goc-bench: goc_malloc; and
# AllocPipelineMalloc under each allocator) at -procs 1 and 2 with Go's
# counterpart (bench/go). RUNS alternating runs (default 5), medians of
# ns/op and peak RSS; prints a Markdown table with ratios.
# Needs Debian's libjemalloc2, libtcmalloc-minimal4, libmimalloc2.0 and
# golang-go (tools/deps.sh bench); a missing one is left out.
set -u
build=${1:?usage: bench-alloc.sh BUILD [RUNS] [SCALE]}
runs=${2:-5}
scale=${3:-0.25}
lib=/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
declare -A pre=([glibc]="" [jemalloc]=$lib/libjemalloc.so.2
	[tcmalloc]=$lib/libtcmalloc_minimal.so.4 [mimalloc]=$lib/libmimalloc.so.2
	[goc]=$(realpath "$build/libgoc-malloc.so"))
names=()
for a in glibc jemalloc tcmalloc mimalloc goc; do
	if [ -z "${pre[$a]}" ] || [ -f "${pre[$a]}" ]; then names+=("$a"); else
		echo "skip: $a (${pre[$a]} not installed)" >&2; fi
done
gobench=""
if command -v go >/dev/null; then
	gobench=$(mktemp)
	(cd "$(dirname "$0")/../bench/go" && go build -o "$gobench" .) || gobench=""
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp" ${gobench:+"$gobench"}' EXIT

median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

# record NAME KEY COMMAND...: runs it, appends "ns rss" to $tmp/NAME.KEY
record() {
	local name=$1 key=$2
	shift 2
	"$@" 2>/dev/null | awk '/^Benchmark/ {ns=$3; rss=0; for (i=1;i<=NF;i++) if ($i=="peak-rss-KiB") rss=$(i-1); print ns, rss}' >>"$tmp/$name.$key"
}

for r in $(seq "$runs"); do
	for w in XmallocTest Larson CacheScratch; do
		for a in "${names[@]}"; do
			record "$w" "$a" env LD_PRELOAD="${pre[$a]}" "$build/bench/goc-mallocbench" "$w" "$scale"
		done
	done
	for p in 1 2; do
		for a in "${names[@]}"; do
			[ "$a" = goc ] && continue
			record "AllocPipeline-$p" "$a" env LD_PRELOAD="${pre[$a]}" \
				"$build/bench/goc-bench" -run '^AllocPipelineMalloc$' -procs "$p" -scale "$scale"
		done
		record "AllocPipeline-$p" goc "$build/bench/goc-bench" -run '^AllocPipeline$' -procs "$p" -scale "$scale"
		[ -n "$gobench" ] && record "AllocPipeline-$p" go "$gobench" -run '^AllocPipeline$' -procs "$p" -scale "$scale"
	done
done

printf '| workload |'
for a in "${names[@]}"; do printf ' %s ns/op |' "$a"; done
printf ' go ns/op | goc vs glibc | goc vs jemalloc | goc vs tcmalloc | goc vs mimalloc | goc vs go | peak RSS KiB (glibc / goc) |\n'
printf '|---|'
for a in "${names[@]}"; do printf -- '---|'; done
printf -- '---|---|---|---|---|---|---|\n'
for w in XmallocTest Larson CacheScratch AllocPipeline-1 AllocPipeline-2; do
	declare -A ns=() rss=()
	for a in "${names[@]}" go; do
		f="$tmp/$w.$a"
		[ -s "$f" ] || continue
		ns[$a]=$(cut -d' ' -f1 "$f" | median)
		rss[$a]=$(cut -d' ' -f2 "$f" | median)
	done
	printf '| %s |' "$w"
	for a in "${names[@]}"; do printf ' %s |' "${ns[$a]:--}"; done
	printf ' %s |' "${ns[go]:--}"
	for a in glibc jemalloc tcmalloc mimalloc go; do
		if [ -n "${ns[$a]:-}" ] && [ -n "${ns[goc]:-}" ]; then
			# speed ratio: > 1 means goc is faster
			awk -v a="${ns[$a]}" -v g="${ns[goc]}" 'BEGIN {printf " %.2fx |", a / g}'
		else printf ' - |'; fi
	done
	printf ' %s / %s |\n' "${rss[glibc]:--}" "${rss[goc]:--}"
	unset ns rss
done
echo
echo "ratios: the other's ns/op divided by goc's (above 1: goc is faster); medians of $runs alternating runs at -scale $scale"
