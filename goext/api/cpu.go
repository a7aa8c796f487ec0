package api

import (
	"runtime"
	"sync"
)

// CPU runs fn on the calling goroutine once one of moe's async CPU slots is
// free, and holds the slot until fn returns.
//
// Why: a worker thread entering Go needs a free P, and GOMAXPROCS is sized
// as workers + go.async_procs. Goroutines that wait on the network (an auth
// call) hold no P, but goroutines that compute (hashing, compressing,
// parsing a big body) do, and enough of them would take the workers' Ps
// too: a crossing would then wait up to Go's 10 ms preemption slice. CPU
// caps such work at go.async_procs at a time, leaving one P per worker.
// Use it inside Stream.Go for anything that computes for more than a few
// microseconds:
//
//	s.Go(func() {
//		var sum [32]byte
//		api.CPU(func() { sum = sha256.Sum256(body) })
//		...
//		s.Resume()
//	})
//
// Never call CPU on a filter hook itself (the worker's goroutine): hooks run
// on the worker's P already and must not wait.
func CPU(fn func()) {
	sem := cpuSlots()
	sem <- struct{}{}
	defer func() { <-sem }()
	fn()
}

var cpu struct {
	mu  sync.Mutex
	sem chan struct{}
}

// SetAsyncProcs sizes the CPU slots; the bridge calls it at startup with
// go.async_procs (at least 1).
func SetAsyncProcs(n int) {
	if n < 1 {
		n = 1
	}
	cpu.mu.Lock()
	cpu.sem = make(chan struct{}, n)
	cpu.mu.Unlock()
}

func cpuSlots() chan struct{} {
	cpu.mu.Lock()
	defer cpu.mu.Unlock()
	if cpu.sem == nil {
		// Not configured (filtertest, tests): one slot per P beyond the first.
		n := runtime.GOMAXPROCS(0) - 1
		if n < 1 {
			n = 1
		}
		cpu.sem = make(chan struct{}, n)
	}
	return cpu.sem
}
