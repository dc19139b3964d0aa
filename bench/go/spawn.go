package main

// Goroutine life cycle: SpawnJoin, SpawnJoinBatch and ParkedMemory.

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// batchSize is how many goroutines one SpawnJoinBatch round starts.
const batchSize = 1000

// spawnJoin starts n goroutines at once; each bumps a counter and leaves.
// One op is one goroutine, from its go statement to the Wait that sees it
// finish.
func spawnJoin(m *meter) error {
	var wg sync.WaitGroup
	var ran atomic.Int64
	m.start()
	wg.Add(m.n)
	for i := 0; i < m.n; i++ {
		go func() {
			ran.Add(1)
			wg.Done()
		}()
	}
	wg.Wait()
	m.stop()
	if got := ran.Load(); got != int64(m.n) {
		return fmt.Errorf("counter is %d after %d goroutines", got, m.n)
	}
	return nil
}

// spawnJoinBatch does n rounds of spawnJoin with batchSize goroutines,
// waiting for each round to finish before starting the next. One op is one
// goroutine.
func spawnJoinBatch(m *meter) error {
	var wg sync.WaitGroup
	var ran atomic.Int64
	m.ops = m.n * batchSize
	m.start()
	for round := 0; round < m.n; round++ {
		wg.Add(batchSize)
		for i := 0; i < batchSize; i++ {
			go func() {
				ran.Add(1)
				wg.Done()
			}()
		}
		wg.Wait()
	}
	m.stop()
	if got := ran.Load(); got != int64(m.ops) {
		return fmt.Errorf("counter is %d after %d goroutines", got, m.ops)
	}
	return nil
}

// parkedMemory measures what a goroutine blocked on a channel costs in
// resident memory: n goroutines park on one shared channel, and the growth
// of VmRSS divided by n is reported as KB/goroutine. The time reported is
// spawning until all are parked plus closing the channel until all have
// finished; the RSS reading and the collection between are not timed.
func parkedMemory(m *meter) error {
	// Start from the smallest footprint this process can have.
	runtime.GC()
	debug.FreeOSMemory()
	before, err := residentBytes()
	if err != nil {
		return err
	}

	var ready, done sync.WaitGroup
	var woken atomic.Int64
	wake := make(chan struct{})
	m.start()
	ready.Add(m.n)
	done.Add(m.n)
	for i := 0; i < m.n; i++ {
		go func() {
			ready.Done()
			<-wake
			woken.Add(1)
			done.Done()
		}()
	}
	ready.Wait()
	m.stop()

	parked, err := residentBytes()
	if err != nil {
		return err
	}
	// A collection the spawning triggered would otherwise overlap the
	// wake-up part.
	runtime.GC()

	m.start()
	close(wake)
	done.Wait()
	m.stop()

	if got := woken.Load(); got != int64(m.n) {
		return fmt.Errorf("%d of %d goroutines woke", got, m.n)
	}
	m.add(float64(parked-before)/1024/float64(m.n), "KB/goroutine")
	return nil
}
