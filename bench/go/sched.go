package main

// Giving up the processor: Yield.

import (
	"fmt"
	"runtime"
	"sync"
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
