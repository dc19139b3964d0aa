package main

// The service toolbox at work: LimiterAllowN, x/time/rate's
// BenchmarkAllowN (a limiter of one event a second, burst 1, asked for one
// token at a fixed instant by a goroutine per P). One op is one AllowN.

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

func limiterAllowN(m *meter) error {
	workers := runtime.GOMAXPROCS(0)
	lim := rate.NewLimiter(rate.Every(time.Second), 1)
	now := time.Now()
	perWorker := m.n / workers
	m.ops = perWorker * workers
	var allowed int64
	var wg sync.WaitGroup
	m.start()
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		go func() {
			var mine int64
			for i := 0; i < perWorker; i++ {
				if lim.AllowN(now, 1) {
					mine++
				}
			}
			atomic.AddInt64(&allowed, mine)
			wg.Done()
		}()
	}
	wg.Wait()
	m.stop()
	if allowed != 1 {
		return fmt.Errorf("%d events allowed at one instant, want 1", allowed)
	}
	return nil
}
