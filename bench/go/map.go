package main

// The concurrent map at work: the scenarios of Go's sync/map_bench_test.go
// (Go 1.19's list), each on sync.Map (Map<Name>) and on a map behind a
// sync.RWMutex (RWMap<Name>, the RWMutexMap of sync's own reference
// tests). As RunParallel: a goroutine per P, goroutine g running n/P
// iterations with i starting at g × n. One op is one iteration.

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

type mapInterface interface {
	Load(key any) (any, bool)
	LoadOrStore(key, value any) (any, bool)
	LoadAndDelete(key any) (any, bool)
	Store(key, value any)
	Delete(key any)
	Range(f func(key, value any) bool)
}

// rwMutexMap is sync.Map's semantics on a map and a RWMutex.
type rwMutexMap struct {
	mu    sync.RWMutex
	dirty map[any]any
}

func (m *rwMutexMap) Load(key any) (any, bool) {
	m.mu.RLock()
	v, ok := m.dirty[key]
	m.mu.RUnlock()
	return v, ok
}

func (m *rwMutexMap) Store(key, value any) {
	m.mu.Lock()
	if m.dirty == nil {
		m.dirty = make(map[any]any)
	}
	m.dirty[key] = value
	m.mu.Unlock()
}

func (m *rwMutexMap) LoadOrStore(key, value any) (any, bool) {
	if v, ok := m.Load(key); ok {
		return v, true
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if v, ok := m.dirty[key]; ok {
		return v, true
	}
	if m.dirty == nil {
		m.dirty = make(map[any]any)
	}
	m.dirty[key] = value
	return value, false
}

func (m *rwMutexMap) LoadAndDelete(key any) (any, bool) {
	m.mu.Lock()
	v, ok := m.dirty[key]
	delete(m.dirty, key)
	m.mu.Unlock()
	return v, ok
}

func (m *rwMutexMap) Delete(key any) {
	m.mu.Lock()
	delete(m.dirty, key)
	m.mu.Unlock()
}

func (m *rwMutexMap) Range(f func(key, value any) bool) {
	m.mu.RLock()
	keys := make([]any, 0, len(m.dirty))
	for k := range m.dirty {
		keys = append(keys, k)
	}
	m.mu.RUnlock()
	for _, k := range keys {
		v, ok := m.Load(k)
		if !ok {
			continue
		}
		if !f(k, v) {
			break
		}
	}
}

type scenario struct {
	setup func(m mapInterface)
	perG  func(m mapInterface, i, n int) int // returns failures
}

func prime(m mapInterface, hits int) {
	for i := 0; i < hits; i++ {
		m.LoadOrStore(i, i)
	}
	for i := 0; i < hits*2; i++ {
		m.Load(i % hits)
	}
}

func loadMostly(hits, misses int) scenario {
	return scenario{
		setup: func(m mapInterface) { prime(m, hits) },
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				m.Load(i % (hits + misses))
			}
			return 0
		},
	}
}

var (
	scenarioLoadMostlyHits   = loadMostly(1023, 1)
	scenarioLoadMostlyMisses = loadMostly(1, 1023)

	scenarioLoadOrStoreBalanced = scenario{
		setup: func(m mapInterface) { prime(m, 128) },
		perG: func(m mapInterface, i, n int) int {
			failures := 0
			for end := i + n; i < end; i++ {
				j := i % 256
				if j < 128 {
					if _, ok := m.LoadOrStore(j, i); !ok {
						failures++
					}
				} else if _, loaded := m.LoadOrStore(i, i); loaded {
					failures++
				}
			}
			return failures
		},
	}
	scenarioLoadOrStoreUnique = scenario{
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				m.LoadOrStore(i, i)
			}
			return 0
		},
	}
	scenarioLoadOrStoreCollision = scenario{
		setup: func(m mapInterface) { m.LoadOrStore(0, 0) },
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				m.LoadOrStore(0, 0)
			}
			return 0
		},
	}
	scenarioLoadAndDeleteBalanced = scenario{
		setup: func(m mapInterface) { prime(m, 128) },
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				j := i % 256
				if j < 128 {
					m.LoadAndDelete(j)
				} else {
					m.LoadAndDelete(i)
				}
			}
			return 0
		},
	}
	scenarioLoadAndDeleteUnique = scenario{
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				m.LoadAndDelete(i)
			}
			return 0
		},
	}
	scenarioLoadAndDeleteCollision = scenario{
		setup: func(m mapInterface) { m.LoadOrStore(0, 0) },
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				if _, loaded := m.LoadAndDelete(0); loaded {
					m.Store(0, 0)
				}
			}
			return 0
		},
	}
	scenarioRange = scenario{
		setup: func(m mapInterface) {
			for i := 0; i < 1024; i++ {
				m.Store(i, i)
			}
		},
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				m.Range(func(_, _ any) bool { return true })
			}
			return 0
		},
	}
	scenarioAdversarialAlloc = scenario{
		perG: func(m mapInterface, i, n int) int {
			var stores, loadsSinceStore int64
			for end := i + n; i < end; i++ {
				m.Load(i)
				if loadsSinceStore++; loadsSinceStore > stores {
					m.LoadOrStore(i, stores)
					loadsSinceStore = 0
					stores++
				}
			}
			return 0
		},
	}
	scenarioAdversarialDelete = scenario{
		setup: func(m mapInterface) {
			for i := 0; i < 1024; i++ {
				m.Store(i, i)
			}
		},
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				m.Load(i)
				if i%1024 == 0 {
					m.Range(func(k, _ any) bool {
						m.Delete(k)
						return false
					})
					m.Store(i, i)
				}
			}
			return 0
		},
	}
	scenarioDeleteCollision = scenario{
		setup: func(m mapInterface) { m.LoadOrStore(0, 0) },
		perG: func(m mapInterface, i, n int) int {
			for end := i + n; i < end; i++ {
				m.Delete(0)
			}
			return 0
		},
	}
)

func mapScenario(s scenario, rw bool) func(m *meter) error {
	return func(mt *meter) error {
		var m mapInterface = &sync.Map{}
		if rw {
			m = &rwMutexMap{}
		}
		if s.setup != nil {
			s.setup(m)
		}
		procs := runtime.GOMAXPROCS(0)
		perG := mt.n / procs
		mt.ops = perG * procs
		var failures int64
		var wg sync.WaitGroup
		mt.start()
		wg.Add(procs)
		for g := 0; g < procs; g++ {
			go func(id int) {
				atomic.AddInt64(&failures, int64(s.perG(m, id*mt.n, perG)))
				wg.Done()
			}(g)
		}
		wg.Wait()
		mt.stop()
		if failures != 0 {
			return fmt.Errorf("%d operations found what they should not have", failures)
		}
		return nil
	}
}
