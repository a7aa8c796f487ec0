package api

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCPUCapsConcurrentWork(t *testing.T) {
	SetAsyncProcs(2)
	defer SetAsyncProcs(2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			CPU(func() {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(2 * time.Millisecond)
				running.Add(-1)
			})
		}()
	}
	wg.Wait()
	if got := peak.Load(); got != 2 {
		t.Fatalf("at most %d CPU sections ran at once, want exactly 2", got)
	}
}
