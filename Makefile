# The thin front door: every target installs what it needs (Debian packages,
# when run as root; otherwise it prints the apt-get line and stops), builds
# with CMake and runs.
#
#   make demo          build and run the showcase
#   make test          the whole suite: release, ASan+UBSan, TSan builds, valgrind, fuzzing
#   make build         release build in build/ (library, tests, goc-bench)
#   make bench         goc-bench against Go's runtime, side by side
#   make test-aarch64  cross-compile for aarch64 and run the tests in qemu
#   make test-valgrind the tests that do not re-run themselves, under memcheck
#   make test-fuzz     a short libFuzzer run of every fuzz target (clang)
#   make install       install into PREFIX (default /usr/local)

PREFIX ?= /usr/local
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
DEPS = tools/deps.sh
CTEST = ctest --output-on-failure -j$(JOBS)

.PHONY: all build demo test test-release test-asan test-tsan test-valgrind test-fuzz bench test-aarch64 install clean

all: build

build:
	@$(DEPS) build
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGOC_BUILD_BENCH=ON -DGOC_BUILD_EXAMPLES=ON -DGOC_BUILD_TESTS=ON -DGOC_WERROR=ON >/dev/null
	cmake --build build -j$(JOBS)

demo: build
	./build/examples/demo

test: test-release test-asan test-tsan test-valgrind test-fuzz
	@echo "make test: release, ASan+UBSan and TSan suites, the valgrind run and the fuzz run all passed"

test-release: build
	cd build && $(CTEST)

test-asan:
	@$(DEPS) build
	cmake -S . -B build-asan -DGOC_SANITIZE=address -DGOC_BUILD_BENCH=OFF -DGOC_WERROR=ON >/dev/null
	cmake --build build-asan -j$(JOBS)
	cd build-asan && $(CTEST)

test-tsan:
	@$(DEPS) build
	cmake -S . -B build-tsan -DGOC_SANITIZE=thread -DGOC_BUILD_BENCH=OFF -DGOC_WERROR=ON >/dev/null
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && $(CTEST)

bench: build
	@$(DEPS) bench
	tools/bench-compare.sh build/bench/goc-bench
	if command -v wrk >/dev/null; then tools/bench-http.sh build/bench/goc-bench; fi

test-aarch64:
	@$(DEPS) aarch64
	cmake -S . -B build-aarch64 -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake \
		-DGOC_BUILD_BENCH=OFF >/dev/null
	cmake --build build-aarch64 -j$(JOBS)
	cd build-aarch64 && $(CTEST) -LE slow

# Each run also fails on a valgrind warning (an unhandled system call, say).
VALGRIND_TESTS = test_smoke test_chan_sieve test_chan_prodcons test_select_stress test_timer_chan test_timer_sleep test_sched_errno test_map test_net_fdwait test_alloc
test-valgrind: build
	@for t in $(VALGRIND_TESTS); do \
		echo "valgrind: $$t"; \
		GOC_TEST_SANITIZER=valgrind valgrind -q --error-exitcode=9 build/tests/$$t >/dev/null 2>build/valgrind-$$t.err; \
		rc=$$?; cat build/valgrind-$$t.err >&2; \
		[ $$rc -eq 0 ] || exit 1; \
		if grep -q -- '^--[0-9]*-- WARNING' build/valgrind-$$t.err; then echo "valgrind warned on $$t" >&2; exit 1; fi; \
	done
	@echo "make test-valgrind: $(words $(VALGRIND_TESTS)) tests clean under memcheck"

# The parser fuzz target starts from its seed corpus (tests/fuzz/corpus/http)
# with the words of tests/fuzz/http.dict, and keeps what it learns in
# build-fuzz/corpus/http (never committed); a crash leaves its input in
# build-fuzz/crash-*.
FUZZ_RUNS ?= 200000
test-fuzz:
	@$(DEPS) fuzz
	cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DGOC_BUILD_FUZZ=ON -DGOC_BUILD_TESTS=OFF -DGOC_WERROR=ON \
		-DGOC_BUILD_BENCH=OFF -DGOC_BUILD_EXAMPLES=OFF >/dev/null
	cmake --build build-fuzz -j$(JOBS) --target fuzz_http_parse
	@mkdir -p build-fuzz/corpus/http
	@cd build-fuzz && tests/fuzz/fuzz_http_parse -runs=$(FUZZ_RUNS) -max_total_time=120 -max_len=4096 -dict=../tests/fuzz/http.dict \
		-print_final_stats=1 corpus/http ../tests/fuzz/corpus/http >fuzz_http_parse.log 2>&1 || \
		{ tail -40 fuzz_http_parse.log; exit 1; }
	@grep -E '^(Done|stat::average_exec_per_sec|stat::new_units_added)' build-fuzz/fuzz_http_parse.log

install: build
	cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-tsan build-aarch64 build-fuzz
