package main

// Giving up the processor: Yield and SchedLatency.

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// yield runs two goroutines that each call runtime.Gosched n/2 times (at
// least once). One op is one call. With one processor every call switches
// to the other goroutine; with two, each goroutine tends to have its own
// processor and a call is a round trip through the run queue.
func yield(m *meter) error {
	perGoroutine := m.n / 2
	if perGoroutine < 1 {
		perGoroutine = 1
	}
	m.ops = 2 * perGoroutine
	var calls [2]int
	var wg sync.WaitGroup
	m.start()
	wg.Add(2)
	for g := range calls {
		go func(slot *int) {
			made := 0
			for made < perGoroutine {
				runtime.Gosched()
				made++
			}
			*slot = made
			wg.Done()
		}(&calls[g])
	}
	wg.Wait()
	m.stop()
	if total := calls[0] + calls[1]; total != m.ops {
		return fmt.Errorf("%d calls counted, want %d", total, m.ops)
	}
	return nil
}

// hogsStop tells SchedLatency's hogs to end.
var hogsStop atomic.Bool

// latencyHog spins without a function call until told to stop (Go
// preempts it asynchronously).
func latencyHog(done *sync.WaitGroup) {
	x := uint64(1)
	for !hogsStop.Load() {
		x = x*6364136223846793005 + 1442695040888963407
	}
	sink.Add(x)
	done.Done()
}

var sink atomic.Uint64

// schedLatency reads a 1 ms ticker n times while hogsPerProc goroutines
// per processor spin. One op is one tick; a tick's lateness is the gap
// since the previous one minus 1 ms. Extra metrics: median, 99th
// percentile and maximum lateness in microseconds.
func schedLatency(m *meter, hogsPerProc int) error {
	hogs := hogsPerProc * runtime.GOMAXPROCS(0)
	late := make([]time.Duration, m.n)
	var done sync.WaitGroup
	hogsStop.Store(false)
	done.Add(hogs)
	for i := 0; i < hogs; i++ {
		go latencyHog(&done)
	}
	t := time.NewTicker(time.Millisecond)
	m.start()
	<-t.C
	prev := time.Now()
	for i := range late {
		<-t.C
		now := time.Now()
		if gap := now.Sub(prev) - time.Millisecond; gap > 0 {
			late[i] = gap
		}
		prev = now
	}
	m.stop()
	t.Stop()
	hogsStop.Store(true)
	done.Wait()
	var max time.Duration
	for _, d := range late {
		if d > max {
			max = d
		}
	}
	m.addLatencies(late)
	m.add(float64(max.Nanoseconds())/1e3, "max-us")
	return nil
}

func schedLatencyHogs1(m *meter) error { return schedLatency(m, 1) }

func schedLatencyHogs2(m *meter) error { return schedLatency(m, 2) }
