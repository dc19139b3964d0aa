package main

// Allocation under goroutines: AllocPipeline (bench/alloc.c). One producer
// goroutine allocates each item (64 to 1023 bytes, sizes from the same
// fixed pseudo-random sequence as the C version), writes its first and
// last bytes and sends it through a channel of capacity 128; one consumer
// checks the bytes and drops the slice, which Go's GC frees. One op is one
// item.

import "fmt"

func itemSize(state *uint64) int {
	*state = *state*6364136223846793005 + 1442695040888963407
	return 64 + int((*state>>33)%960)
}

func allocPipeline(m *meter) error {
	n := m.n
	m.start()
	items := make(chan []byte, 128)
	done := make(chan int, 1)
	go func() {
		state := uint64(1)
		for i := 0; i < n; i++ {
			size := itemSize(&state)
			p := make([]byte, size)
			p[0] = byte(i)
			p[size-1] = byte(size)
			items <- p
		}
		close(items)
	}()
	go func() {
		state := uint64(1)
		i, bad := 0, 0
		for p := range items {
			size := itemSize(&state)
			if p[0] != byte(i) || p[size-1] != byte(size) {
				bad++
			}
			i++
		}
		done <- bad
	}()
	bad := <-done
	m.stop()
	if bad != 0 {
		return fmt.Errorf("%d items corrupted", bad)
	}
	return nil
}
