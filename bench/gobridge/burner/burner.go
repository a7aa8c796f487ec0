// Command burner is a Go plugin for bench/gobridge's latency benchmark: it
// loads the Go side of the process the way a CPU-heavy async filter would.
// Its init() reads MOE_BENCH_BURN, e.g. "spin=2,gc=1":
//
//	spin=N  N goroutines that burn CPU forever (N = async_procs saturates
//	        every async P);
//	gc=1    one goroutine calling runtime.GC() in a loop over a ~5 MB live
//	        heap (a GC cycle after another: mark workers, STW phases).
//
// It also registers the filter "bench-noop" (so it is an ordinary filter
// plugin). Build: scripts/build-plugin.sh bench/gobridge/burner OUT.so
package main

import (
	"encoding/json"
	"os"
	"runtime"
	"strconv"
	"strings"

	"moe/goext/api"
)

type noop struct{}

func (noop) OnRequestHeaders(*api.Stream, *api.RequestHeaders, bool) api.Status { return api.Continue }

var sink []*[256]byte

func init() {
	api.Register("bench-noop", func(json.RawMessage) (api.Factory, error) { return api.Shared(noop{}), nil })
	for _, kv := range strings.Split(os.Getenv("MOE_BENCH_BURN"), ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "spin":
			for i := 0; i < n; i++ {
				go spin()
			}
		case "gc":
			if n > 0 {
				go gcLoop()
			}
		}
	}
}

func spin() {
	x := uint64(1)
	for {
		for i := 0; i < 1<<20; i++ {
			x = x*6364136223846793005 + 1442695040888963407
		}
		if x == 42 {
			println(x)
		}
	}
}

func gcLoop() {
	// ~5 MB live in 20,000 small objects, so marking has work to do
	sink = make([]*[256]byte, 20000)
	for i := range sink {
		sink[i] = new([256]byte)
	}
	for {
		runtime.GC()
	}
}

func main() {}
