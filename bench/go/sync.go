package main

// The sync package at work: MutexContended and WorkerPool.

import (
	"fmt"
	"sync"
)

// lockers is the number of goroutines MutexContended runs.
const lockers = 64

// mutexContended has 64 goroutines each take one shared mutex n times to
// increment a plain counter. One op is one Lock, increment, Unlock.
func mutexContended(m *meter) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	n := m.n
	m.ops = lockers * n
	m.start()
	wg.Add(lockers)
	for g := 0; g < lockers; g++ {
		go func() {
			for i := 0; i < n; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	m.stop()
	if counter != m.ops {
		return fmt.Errorf("counter is %d, want %d", counter, m.ops)
	}
	return nil
}

// A job is WorkerPool's unit of work: a function and its argument, kept as
// a plain value so that queueing one allocates nothing (a closure would).
type job struct {
	apply func(acc *int, arg int)
	arg   int
}

func addToChecksum(acc *int, arg int) { *acc += arg }

// poolWorkers is the number of WorkerPool's workers.
const poolWorkers = 8

// workerPool feeds n jobs through a channel of capacity 16 to eight
// workers, each adding its jobs' arguments to its own accumulator. The
// timing goroutine is the one sending. One op is one job.
func workerPool(m *meter) error {
	var sums [poolWorkers]int
	var wg sync.WaitGroup
	m.start()
	jobs := make(chan job, 16)
	wg.Add(poolWorkers)
	for w := range sums {
		go func(out *int) {
			acc := 0
			for j := range jobs {
				j.apply(&acc, j.arg)
			}
			*out = acc
			wg.Done()
		}(&sums[w])
	}
	for i := 0; i < m.n; i++ {
		jobs <- job{addToChecksum, i}
	}
	close(jobs)
	wg.Wait()
	m.stop()
	total := 0
	for _, s := range sums {
		total += s
	}
	if want := m.n * (m.n - 1) / 2; total != want {
		return fmt.Errorf("workers summed to %d, want %d", total, want)
	}
	return nil
}
