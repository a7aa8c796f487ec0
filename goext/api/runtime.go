package api

import (
	"encoding/json"
	"runtime"
	"runtime/metrics"
)

var runtimeSamples = []metrics.Sample{
	{Name: "/sched/goroutines:goroutines"},
	{Name: "/gc/cycles/total:gc-cycles"},
	{Name: "/memory/classes/heap/objects:bytes"},
	{Name: "/sched/latencies:seconds"},
}

// runtimeJSON is GET /go. runtime/metrics, unlike ReadMemStats, does not
// stop the world.
func runtimeJSON(goVersion string) []byte {
	s := make([]metrics.Sample, len(runtimeSamples))
	copy(s, runtimeSamples)
	metrics.Read(s)
	u := func(i int) uint64 {
		if s[i].Value.Kind() == metrics.KindUint64 {
			return s[i].Value.Uint64()
		}
		return 0
	}
	var crossings, events uint64
	var live int64
	var perWorker []uint64
	for i := range workers {
		if w := workers[i].Load(); w != nil {
			for len(perWorker) < i {
				perWorker = append(perWorker, 0)
			}
			n := w.crossings.Load()
			perWorker = append(perWorker, n)
			crossings += n
			events += n + w.extraEvents.Load()
			live += w.live.Load()
		}
	}
	out := map[string]any{
		"gomaxprocs":           runtime.GOMAXPROCS(0),
		"goroutines":           u(0),
		"num_gc":               u(1),
		"heap_alloc":           u(2),
		"crossings":            crossings,
		"crossings_per_worker": perWorker,
		"events":               events,
		"streams":              live,
		"panics":               counterSum("panics_total"),
		"timeouts":             counterSum("timeouts_total"),
		"go_version":           goVersion,
		"sched_latency_p99_ns": histQuantileNs(s[3], 0.99),
	}
	b, _ := json.Marshal(out)
	return append(b, '\n')
}

func histQuantileNs(s metrics.Sample, q float64) int64 {
	if s.Value.Kind() != metrics.KindFloat64Histogram {
		return 0
	}
	h := s.Value.Float64Histogram()
	var total uint64
	for _, c := range h.Counts {
		total += c
	}
	if total == 0 {
		return 0
	}
	want := uint64(float64(total) * q)
	var cum uint64
	for i, c := range h.Counts {
		cum += c
		if cum > want {
			ub := h.Buckets[i+1]
			if ub > 1e9 {
				ub = h.Buckets[i]
			}
			return int64(ub * 1e9)
		}
	}
	return 0
}
