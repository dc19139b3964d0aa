package main

// The measuring side of a run: what is timed, what is reported and how it
// is printed, plus the few facts read from /proc.

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// A meter is handed to one run of a workload. The workload brackets its
// timed region (or regions: ParkedMemory has two) with start and stop,
// and adds any extra metrics; ops stays n unless the workload sets it.
type meter struct {
	n       int // the scaled size the workload runs at
	ops     int // operations done in the timed region(s)
	elapsed time.Duration
	began   time.Time
	extras  []string // formatted "value unit" fields after ns/op
}

func newMeter(n int) *meter { return &meter{n: n, ops: n} }

func (m *meter) start() { m.began = time.Now() }

func (m *meter) stop() { m.elapsed += time.Since(m.began) }

// add appends an extra metric to the result line.
func (m *meter) add(value float64, unit string) {
	m.extras = append(m.extras, formatMetric(value, unit))
}

// addLatencies adds the 50th and 99th percentiles of samples, in
// microseconds, as p50-us and p99-us. It sorts samples in place.
func (m *meter) addLatencies(samples []time.Duration) {
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	for _, p := range []int{50, 99} {
		v := nearestRank(samples, p)
		m.add(float64(v.Nanoseconds())/1e3, "p"+strconv.Itoa(p)+"-us")
	}
}

// fields is the result line after the name: ops, ns/op and the extras,
// separated by tabs.
func (m *meter) fields() string {
	perOp := float64(m.elapsed.Nanoseconds()) / float64(m.ops)
	parts := append([]string{fmt.Sprintf("%10d", m.ops), formatMetric(perOp, "ns/op")}, m.extras...)
	return strings.Join(parts, "\t")
}

// nearestRank returns the p-th percentile of sorted, non-empty samples: the
// sample at rank ceil(p*len/100), counting from 1. The rank is computed in
// integers so that no rounding can move it.
func nearestRank(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100
	if rank < 1 {
		rank = 1
	}
	return sorted[rank-1]
}

// formatMetric renders "value unit" as the testing package does: the larger
// the value, the fewer decimals, in a field whose width keeps the columns of
// a benchmark listing roughly aligned.
func formatMetric(value float64, unit string) string {
	width, decimals := 16, 5
	switch a := math.Abs(value); {
	case a == 0 || a >= 999.95:
		width, decimals = 10, 0
	case a >= 99.995:
		width, decimals = 12, 1
	case a >= 9.9995:
		width, decimals = 13, 2
	case a >= 0.99995:
		width, decimals = 14, 3
	case a >= 0.099995:
		width, decimals = 15, 4
	}
	return fmt.Sprintf("%*.*f %s", width, decimals, value, unit)
}

// residentBytes returns the resident set size of this process, from the
// VmRSS line of /proc/self/status (given there in kB).
func residentBytes() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "VmRSS:" && f[2] == "kB" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024, err
		}
	}
	return 0, fmt.Errorf("/proc/self/status has no VmRSS line")
}

// cpuModel returns the first "model name" of /proc/cpuinfo, or "" if there
// is none (some architectures do not have the field).
func cpuModel() string {
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(info), "\n") {
		key, value, found := strings.Cut(line, ":")
		if found && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(value)
		}
	}
	return ""
}
