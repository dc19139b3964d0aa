package main

// The sync package at work: MutexContended, WorkerPool, PoolGetPut and
// PoolAlloc (sync.Pool against plain allocation), CounterShared and
// CounterSharded (one atomic against a padded counter per goroutine).

import (
	"fmt"
	"sync"
	"sync/atomic"
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

// crewSize is the number of goroutines PoolGetPut, PoolAlloc and the
// counter workloads run, and poolObjectSize the size of the pool's objects.
const (
	crewSize       = 8
	poolObjectSize = 256
)

// poolObject is what PoolGetPut keeps in its pool and PoolAlloc allocates.
type poolObject [poolObjectSize]byte

// runCrew times crewSize goroutines each running body(w, i) for i from 0
// to n/8, w being the goroutine's index; one op is one call of body.
func runCrew(m *meter, body func(w, i int)) {
	var wg sync.WaitGroup
	per := m.n / crewSize
	m.ops = per * crewSize
	m.start()
	wg.Add(crewSize)
	for w := 0; w < crewSize; w++ {
		go func(w int) {
			for i := 0; i < per; i++ {
				body(w, i)
			}
			wg.Done()
		}(w)
	}
	wg.Wait()
	m.stop()
}

// poolGetPut has 8 goroutines each take a 256-byte object from one
// sync.Pool, write a byte of it and put it back, n/8 times. One op is one
// Get and Put. Checked: New ran at most a few times per worker (a garbage
// collection empties the pool once into its victim cache, so a few).
func poolGetPut(m *meter) error {
	var made atomic.Int64
	pool := sync.Pool{New: func() any {
		made.Add(1)
		return new(poolObject)
	}}
	runCrew(m, func(_, i int) {
		obj := pool.Get().(*poolObject)
		obj[i%poolObjectSize] = byte(i)
		pool.Put(obj)
	})
	if n := made.Load(); n > 64*crewSize {
		return fmt.Errorf("New made %d objects for %d workers", n, crewSize)
	}
	return nil
}

// allocSinks keeps each PoolAlloc goroutine's latest object reachable from
// a global until its next one replaces it, so the compiler must allocate
// it on the heap. One cache line per goroutine: the stores must not
// contend.
var allocSinks [crewSize]struct {
	obj *poolObject
	_   [56]byte
}

// poolAlloc is PoolGetPut without the pool: a new 256-byte object each
// time, left to the garbage collector.
func poolAlloc(m *meter) error {
	runCrew(m, func(w, i int) {
		obj := new(poolObject)
		obj[i%poolObjectSize] = byte(i)
		allocSinks[w].obj = obj
	})
	return nil
}

// counterShared has 8 goroutines add 1 to one shared atomic int64, n/8
// times each. One op is one add.
func counterShared(m *meter) error {
	var counter atomic.Int64
	runCrew(m, func(_, _ int) { counter.Add(1) })
	if got := counter.Load(); got != int64(m.ops) {
		return fmt.Errorf("counter is %d, want %d", got, m.ops)
	}
	return nil
}

// paddedCounter is one goroutine's share of CounterSharded, alone on its
// cache line.
type paddedCounter struct {
	value atomic.Int64
	_     [56]byte
}

// counterSharded is CounterShared with a padded counter per goroutine,
// summed at the end: Go has no per-P storage for user code, so this is
// the nearest Go idiom to goc_counter's line per P.
func counterSharded(m *meter) error {
	var shards [crewSize]paddedCounter
	runCrew(m, func(w, _ int) { shards[w].value.Add(1) })
	var sum int64
	for w := range shards {
		sum += shards[w].value.Load()
	}
	if sum != int64(m.ops) {
		return fmt.Errorf("counter is %d, want %d", sum, m.ops)
	}
	return nil
}
