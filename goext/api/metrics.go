package api

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Filter metrics, rendered on moe's GET /stats as
// moe_go_filter_<name>{filter="<filter>"}. Create them in your FactoryFunc
// (or init); creating the same (filter, name) again returns the same metric,
// so a filter used by several chains shares its metrics. All methods are safe
// from any goroutine.

// Counter only goes up.
type Counter struct{ v atomic.Uint64 }

// Inc adds 1.
func (c *Counter) Inc() { c.v.Add(1) }

// Add adds n.
func (c *Counter) Add(n uint64) { c.v.Add(n) }

// Value is the current count.
func (c *Counter) Value() uint64 { return c.v.Load() }

// Gauge goes up and down.
type Gauge struct{ bits atomic.Uint64 }

// Set sets the value.
func (g *Gauge) Set(v float64) { g.bits.Store(math.Float64bits(v)) }

// Add adds d (may be negative).
func (g *Gauge) Add(d float64) { addFloat(&g.bits, d) }

// Value is the current value.
func (g *Gauge) Value() float64 { return math.Float64frombits(g.bits.Load()) }

// Histogram counts observations into buckets.
type Histogram struct {
	bounds []float64
	counts []atomic.Uint64 // len(bounds)+1, the last is +Inf
	sum    atomic.Uint64
	n      atomic.Uint64
}

// Observe records v.
func (h *Histogram) Observe(v float64) {
	i, _ := slices.BinarySearch(h.bounds, v)
	h.counts[i].Add(1)
	h.n.Add(1)
	addFloat(&h.sum, v)
}

// DefBuckets are the default histogram buckets (seconds: 1ms .. 10s).
var DefBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func addFloat(bits *atomic.Uint64, d float64) {
	for {
		o := bits.Load()
		if bits.CompareAndSwap(o, math.Float64bits(math.Float64frombits(o)+d)) {
			return
		}
	}
}

// NewCounter returns the counter moe_go_filter_<name>{filter="<filter>"}.
// Name it like Prometheus does: requests_total. It panics on an invalid name
// or when (filter, name) exists with another type.
func NewCounter(filter, name, help string) *Counter {
	return metric(filter, name, help, "counter", func() any { return new(Counter) }).(*Counter)
}

// NewGauge returns the gauge moe_go_filter_<name>{filter="<filter>"}.
func NewGauge(filter, name, help string) *Gauge {
	return metric(filter, name, help, "gauge", func() any { return new(Gauge) }).(*Gauge)
}

// NewHistogram returns the histogram moe_go_filter_<name>{filter="<filter>"}
// with the given upper bounds (nil = DefBuckets).
func NewHistogram(filter, name, help string, buckets []float64) *Histogram {
	return metric(filter, name, help, "histogram", func() any {
		b := slices.Clone(buckets)
		if b == nil {
			b = slices.Clone(DefBuckets)
		}
		sort.Float64s(b)
		return &Histogram{bounds: b, counts: make([]atomic.Uint64, len(b)+1)}
	}).(*Histogram)
}

type metricEntry struct {
	name, filter, help, kind string
	m                        any
}

var metricReg struct {
	mu sync.Mutex
	m  map[[2]string]*metricEntry
}

func metric(filter, name, help, kind string, mk func() any) any {
	if !validMetricName(name) {
		panic(fmt.Sprintf("api: invalid metric name %q", name))
	}
	metricReg.mu.Lock()
	defer metricReg.mu.Unlock()
	if metricReg.m == nil {
		metricReg.m = map[[2]string]*metricEntry{}
	}
	k := [2]string{name, filter}
	if e := metricReg.m[k]; e != nil {
		if e.kind != kind {
			panic(fmt.Sprintf("api: metric %s{filter=%q} exists as a %s", name, filter, e.kind))
		}
		return e.m
	}
	e := &metricEntry{name: name, filter: filter, help: help, kind: kind, m: mk()}
	metricReg.m[k] = e
	return e.m
}

func validMetricName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == ':' || i > 0 && c >= '0' && c <= '9' {
			continue
		}
		return false
	}
	return true
}

func panicsTotal(filter string) *Counter {
	return NewCounter(filter, "panics_total", "Panics recovered in the filter (each failed its stream).")
}

func timeoutsTotal(filter string) *Counter {
	return NewCounter(filter, "timeouts_total", "Streams where the filter stayed Pending past its timeout.")
}

// renderMetrics writes every metric in Prometheus text format.
func renderMetrics() []byte {
	metricReg.mu.Lock()
	es := make([]*metricEntry, 0, len(metricReg.m))
	for _, e := range metricReg.m {
		es = append(es, e)
	}
	metricReg.mu.Unlock()
	sort.Slice(es, func(i, j int) bool {
		if es[i].name != es[j].name {
			return es[i].name < es[j].name
		}
		return es[i].filter < es[j].filter
	})
	var b strings.Builder
	last := ""
	for _, e := range es {
		full := "moe_go_filter_" + e.name
		if e.name != last {
			last = e.name
			fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", full, escHelp(e.help), full, e.kind)
		}
		lbl := `filter="` + escLabel(e.filter) + `"`
		switch m := e.m.(type) {
		case *Counter:
			fmt.Fprintf(&b, "%s{%s} %d\n", full, lbl, m.Value())
		case *Gauge:
			fmt.Fprintf(&b, "%s{%s} %s\n", full, lbl, fnum(m.Value()))
		case *Histogram:
			var cum uint64
			for i, ub := range m.bounds {
				cum += m.counts[i].Load()
				fmt.Fprintf(&b, "%s_bucket{%s,le=\"%s\"} %d\n", full, lbl, fnum(ub), cum)
			}
			cum += m.counts[len(m.bounds)].Load()
			fmt.Fprintf(&b, "%s_bucket{%s,le=\"+Inf\"} %d\n", full, lbl, cum)
			fmt.Fprintf(&b, "%s_sum{%s} %s\n%s_count{%s} %d\n", full, lbl,
				fnum(math.Float64frombits(m.sum.Load())), full, lbl, cum)
		}
	}
	return []byte(b.String())
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func escLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func escHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

// counterSum adds up the counters named name over all filters.
func counterSum(name string) uint64 {
	metricReg.mu.Lock()
	defer metricReg.mu.Unlock()
	var n uint64
	for k, e := range metricReg.m {
		if c, ok := e.m.(*Counter); ok && k[0] == name {
			n += c.Value()
		}
	}
	return n
}
