package main

// The cost of a system call's entersyscall / exitsyscall: SyscallHandoff.

import (
	"fmt"
	"syscall"
	"time"
)

// syscallHandoff makes n getpid system calls through syscall.Syscall,
// which wraps each in the runtime's entersyscall / exitsyscall. One op is
// one call. The extra metric bare-ns/op is the same loop through
// syscall.RawSyscall, which skips them, timed in the same run.
func syscallHandoff(m *meter) error {
	pid := uintptr(syscall.Getpid())
	mismatches := 0

	bareBegan := time.Now()
	for i := 0; i < m.n; i++ {
		if got, _, _ := syscall.RawSyscall(syscall.SYS_GETPID, 0, 0, 0); got != pid {
			mismatches++
		}
	}
	bare := time.Since(bareBegan)

	m.start()
	for i := 0; i < m.n; i++ {
		if got, _, _ := syscall.Syscall(syscall.SYS_GETPID, 0, 0, 0); got != pid {
			mismatches++
		}
	}
	m.stop()

	if mismatches != 0 {
		return fmt.Errorf("getpid returned another pid %d times", mismatches)
	}
	m.add(float64(bare.Nanoseconds())/float64(m.n), "bare-ns/op")
	return nil
}
