// Command gocbench-go runs goc's benchmark workloads on Go's own runtime.
//
// It is the Go half of goc's comparison with Go: bench/goc_bench.c runs the
// same workloads, under the same names and with the same flags and output,
// on goc. The workloads are defined in the project's workload specification
// (../shared/peers/go/README.md, seen from the project root); bench/README.md
// says how to build and compare the two.
//
//	gocbench-go [-run REGEX] [-procs N] [-scale F] [-isolate=false]
//	gocbench-go [-procs N] -serve-http ADDR
//
// Output is the format of `go test -bench`: a few "key: value" header lines,
// then one line per workload, e.g.
//
//	BenchmarkChanPingPong-2   	   5000000	       241.0 ns/op
//
// Exit status 1 means a workload failed its check (the reason is on stderr),
// 2 a usage error.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strconv"
	"strings"
)

// A workload is one entry of the suite.
type workload struct {
	name string
	// size is the default size; -scale multiplies it.
	size int
	// warmUp says whether the workload first runs once, untimed and
	// checked, at full size. It leaves the runtime's free lists and heap
	// as large as the measured run needs. ParkedMemory has none, because
	// the memory it measures would already be touched.
	warmUp bool
	run    func(m *meter) error
}

// suite holds the workloads in the order of the specification, which is
// also the order they run in.
var suite = []workload{
	{"SpawnJoin", 1_000_000, true, spawnJoin},
	{"SpawnJoinBatch", 1_000, true, spawnJoinBatch},
	{"Yield", 10_000_000, true, yield},
	{"SchedLatencyHogs1", 200, true, schedLatencyHogs1},
	{"SchedLatencyHogs2", 200, true, schedLatencyHogs2},
	{"ChanPingPong", 5_000_000, true, chanPingPong},
	{"ChanBuffered", 20_000_000, true, chanBuffered},
	{"ChanMPMC", 20_000_000, true, chanMPMC},
	{"SelectPingPong", 5_000_000, true, selectPingPong},
	{"MutexContended", 100_000, true, mutexContended},
	{"ParkedMemory", 1_000_000, false, parkedMemory},
	{"TimerSleepers", 100_000, true, timerSleepers},
	{"ContextCancelFanout", 100_000, true, contextCancelFanout},
	{"WorkerPool", 1_000_000, true, workerPool},
	{"TCPEcho", 200_000, true, tcpEcho},
	{"HTTPClient", 100_000, true, httpClient},
	{"PoolGetPut", 10_000_000, true, poolGetPut},
	{"PoolAlloc", 10_000_000, true, poolAlloc},
	{"CounterShared", 20_000_000, true, counterShared},
	{"CounterSharded", 20_000_000, true, counterSharded},
	{"SyscallHandoff", 10_000_000, true, syscallHandoff},
	{"LimiterAllowN", 20_000_000, true, limiterAllowN},
	{"MapLoadMostlyHits", 10000000, true, mapScenario(scenarioLoadMostlyHits, false)},
	{"MapLoadMostlyMisses", 10000000, true, mapScenario(scenarioLoadMostlyMisses, false)},
	{"MapLoadOrStoreBalanced", 2000000, true, mapScenario(scenarioLoadOrStoreBalanced, false)},
	{"MapLoadOrStoreUnique", 1000000, true, mapScenario(scenarioLoadOrStoreUnique, false)},
	{"MapLoadOrStoreCollision", 10000000, true, mapScenario(scenarioLoadOrStoreCollision, false)},
	{"MapLoadAndDeleteBalanced", 5000000, true, mapScenario(scenarioLoadAndDeleteBalanced, false)},
	{"MapLoadAndDeleteUnique", 10000000, true, mapScenario(scenarioLoadAndDeleteUnique, false)},
	{"MapLoadAndDeleteCollision", 5000000, true, mapScenario(scenarioLoadAndDeleteCollision, false)},
	{"MapRange", 20000, true, mapScenario(scenarioRange, false)},
	{"MapAdversarialAlloc", 2000000, true, mapScenario(scenarioAdversarialAlloc, false)},
	{"MapAdversarialDelete", 5000000, true, mapScenario(scenarioAdversarialDelete, false)},
	{"MapDeleteCollision", 10000000, true, mapScenario(scenarioDeleteCollision, false)},
	{"RWMapLoadMostlyHits", 10000000, true, mapScenario(scenarioLoadMostlyHits, true)},
	{"RWMapLoadMostlyMisses", 10000000, true, mapScenario(scenarioLoadMostlyMisses, true)},
	{"RWMapLoadOrStoreBalanced", 2000000, true, mapScenario(scenarioLoadOrStoreBalanced, true)},
	{"RWMapLoadOrStoreUnique", 1000000, true, mapScenario(scenarioLoadOrStoreUnique, true)},
	{"RWMapLoadOrStoreCollision", 10000000, true, mapScenario(scenarioLoadOrStoreCollision, true)},
	{"RWMapLoadAndDeleteBalanced", 5000000, true, mapScenario(scenarioLoadAndDeleteBalanced, true)},
	{"RWMapLoadAndDeleteUnique", 10000000, true, mapScenario(scenarioLoadAndDeleteUnique, true)},
	{"RWMapLoadAndDeleteCollision", 5000000, true, mapScenario(scenarioLoadAndDeleteCollision, true)},
	{"RWMapRange", 20000, true, mapScenario(scenarioRange, true)},
	{"RWMapAdversarialAlloc", 2000000, true, mapScenario(scenarioAdversarialAlloc, true)},
	{"RWMapAdversarialDelete", 5000000, true, mapScenario(scenarioAdversarialDelete, true)},
	{"RWMapDeleteCollision", 10000000, true, mapScenario(scenarioDeleteCollision, true)},
	{"AllocPipeline", 5_000_000, true, allocPipeline},
}

// options are the command-line flags.
type options struct {
	pattern   string
	procs     int
	scale     float64
	isolate   bool
	serveHTTP string
}

func main() {
	var opt options
	flag.StringVar(&opt.pattern, "run", ".", "run the workloads whose name matches `regex` (unanchored)")
	flag.IntVar(&opt.procs, "procs", runtime.NumCPU(), "GOMAXPROCS: `N` processors")
	flag.Float64Var(&opt.scale, "scale", 1, "multiply every workload's size by `F`")
	flag.BoolVar(&opt.isolate, "isolate", true, "run every workload in a fresh child process")
	flag.StringVar(&opt.serveHTTP, "serve-http", "", "serve HTTPHello on `addr` until killed instead of running the suite")
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		usageError("unexpected argument %q", flag.Arg(0))
	}
	if opt.procs < 1 {
		usageError("-procs must be at least 1")
	}
	if !(opt.scale > 0) || math.IsInf(opt.scale, 0) {
		usageError("-scale must be a positive number")
	}
	runtime.GOMAXPROCS(opt.procs)

	if opt.serveHTTP != "" {
		fail("%v", serveHello(opt.serveHTTP))
	}

	re, err := regexp.Compile(opt.pattern)
	if err != nil {
		usageError("bad -run pattern: %v", err)
	}
	var chosen []workload
	width := 0
	for _, w := range suite {
		if re.MatchString(w.name) {
			chosen = append(chosen, w)
			if l := len(label(w.name, opt.procs)); l > width {
				width = l
			}
		}
	}
	if len(chosen) == 0 {
		usageError("no workload matches -run %q", opt.pattern)
	}

	printHeader()
	for _, w := range chosen {
		name := label(w.name, opt.procs)
		var fields string
		if opt.isolate {
			fields, err = runInChild(w.name, opt)
		} else {
			fields, err = runHere(w, opt.scale)
		}
		if err != nil {
			fail("%s: %v", name, err)
		}
		fmt.Printf("%-*s\t%s\n", width, name, fields)
	}
}

// label is the name a workload's result line starts with: the workload's
// name, and GOMAXPROCS as go test prints it (always, even when it is 1).
func label(name string, procs int) string {
	return "Benchmark" + name + "-" + strconv.Itoa(procs)
}

// scaledSize is the size a workload runs at: its default size times scale,
// rounded, and never less than 1.
func scaledSize(size int, scale float64) int {
	n := int(math.Round(float64(size) * scale))
	if n < 1 {
		return 1
	}
	return n
}

// runHere runs w in this process (warm-up first, if it has one) and returns
// the fields of its result line that follow the name.
func runHere(w workload, scale float64) (string, error) {
	n := scaledSize(w.size, scale)
	if w.warmUp {
		runtime.GC()
		if err := w.run(newMeter(n)); err != nil {
			return "", fmt.Errorf("warm-up: %w", err)
		}
	}
	runtime.GC()
	m := newMeter(n)
	if err := w.run(m); err != nil {
		return "", err
	}
	return m.fields(), nil
}

// runInChild runs the workload called name in a new process of this
// program, with -isolate=false and a -run pattern that selects it alone,
// and returns the fields of the child's result line that follow the name.
// A fresh process per workload keeps one workload's leftovers (Go keeps
// every goroutine descriptor it ever made, and the heap they live in
// changes how often the collector runs) out of the next one's figures.
// The child reports its own failures on our stderr.
func runInChild(name string, opt options) (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	child := exec.Command(self,
		"-isolate=false",
		"-procs", strconv.Itoa(opt.procs),
		"-scale", strconv.FormatFloat(opt.scale, 'g', -1, 64),
		"-run", "^"+name+"$")
	child.Stderr = os.Stderr
	out, err := child.Output()
	if err != nil {
		return "", fmt.Errorf("child process: %w", err)
	}
	for _, line := range bytes.Split(out, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("Benchmark")) {
			if _, fields, ok := strings.Cut(string(line), "\t"); ok {
				return fields, nil
			}
		}
	}
	return "", errors.New("child process printed no result line")
}

// printHeader prints the key-value lines that precede the results.
func printHeader() {
	fmt.Printf("goos: %s\ngoarch: %s\npkg: gocbench\n", runtime.GOOS, runtime.GOARCH)
	if model := cpuModel(); model != "" {
		fmt.Printf("cpu: %s\n", model)
	}
	fmt.Printf("runtime: %s\n", runtime.Version())
}

// usageError reports a bad command line and exits with status 2.
func usageError(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gocbench-go: "+format+"\n", args...)
	os.Exit(2)
}

// fail reports a failed workload (or server) and exits with status 1.
func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "gocbench-go: "+format+"\n", args...)
	os.Exit(1)
}
