package main

// Waking on time and on cancellation: TimerSleepers and
// ContextCancelFanout.

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"
)

// The range TimerSleepers draws its sleeps from, both ends included.
const (
	shortestSleep = time.Millisecond
	longestSleep  = 50 * time.Millisecond
)

// timerSleepers starts n goroutines at once, goroutine i sleeping for the
// i-th duration drawn from SplitMix64 seeded with 0, and measures how late
// each one woke (time around its Sleep call minus the time asked for). One
// op is one goroutine; the elapsed time runs from the first spawn to the
// last wake-up. Extra metrics: how far that time overshoots the longest
// sleep, and the median and 99th percentile of lateness.
func timerSleepers(m *meter) error {
	sleeps := make([]time.Duration, m.n)
	var rng splitMix64
	choices := uint64((longestSleep-shortestSleep)/time.Microsecond) + 1
	for i := range sleeps {
		sleeps[i] = shortestSleep + time.Duration(rng.next()%choices)*time.Microsecond
	}
	late := make([]time.Duration, m.n)
	var wg sync.WaitGroup

	m.start()
	wg.Add(m.n)
	for i := range sleeps {
		go func(i int) {
			t := time.Now()
			time.Sleep(sleeps[i])
			late[i] = time.Since(t) - sleeps[i]
			wg.Done()
		}(i)
	}
	wg.Wait()
	m.stop()

	for i, d := range late {
		if d < 0 {
			return fmt.Errorf("goroutine %d woke %v early", i, -d)
		}
	}
	m.add(float64((m.elapsed-longestSleep).Nanoseconds())/1e6, "overshoot-ms")
	m.addLatencies(late)
	return nil
}

// splitMix64 is Steele, Lea and Flood's SplitMix64 generator; its value is
// the state, so the zero value is the generator seeded with 0. The C suite
// draws the same sequence.
type splitMix64 uint64

func (s *splitMix64) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// contextCancelFanout parks n goroutines in a select on a context's Done
// channel and a channel that never becomes ready, then cancels the
// context. Timed is cancel until every goroutine has finished; each one
// records the time from just before cancel until it ran again, reported as
// median and 99th percentile.
func contextCancelFanout(m *meter) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	never := make(chan struct{})
	woke := make([]time.Duration, m.n)
	// canceledAt is written before cancel and read by the goroutines
	// after Done is closed, which orders the two.
	var canceledAt time.Time
	var ready, done sync.WaitGroup

	ready.Add(m.n)
	done.Add(m.n)
	for i := range woke {
		woke[i] = -1
		go func(slot *time.Duration) {
			ready.Done()
			select {
			case <-ctx.Done():
				*slot = time.Since(canceledAt)
			case <-never:
			}
			done.Done()
		}(&woke[i])
	}
	ready.Wait()
	// A collection the spawning triggered would otherwise run in the
	// timed region.
	runtime.GC()

	m.start()
	canceledAt = m.began
	cancel()
	done.Wait()
	m.stop()

	for i, d := range woke {
		if d < 0 {
			return fmt.Errorf("goroutine %d did not leave through ctx.Done()", i)
		}
	}
	m.addLatencies(woke)
	return nil
}
