// Package ratelimit is the built-in filter "ratelimit": a token bucket per
// key, shared by all workers.
//
//	config:
//	  rate: 100            # tokens per second (alias: requests_per_second); required
//	  burst: 200           # bucket size; default max(rate, 1)
//	  key: client_ip       # or header:<name> (requests without it share one bucket)
//	  paths: [/api/]       # only paths with one of these prefixes; default all
//	  max_keys: 100000     # buckets kept; full ones are evicted first
//
// Over the limit: 429 with Retry-After (seconds).
package ratelimit

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"moe/goext/api"
)

func init() { api.Register("ratelimit", New) }

type config struct {
	Rate              float64  `json:"rate"`
	RequestsPerSecond float64  `json:"requests_per_second"`
	Burst             float64  `json:"burst"`
	Key               string   `json:"key"`
	Paths             []string `json:"paths"`
	MaxKeys           int      `json:"max_keys"`
}

const shards = 64

type bucket struct {
	tokens float64
	last   int64 // unix ns of the last refill
}

type shard struct {
	mu sync.Mutex
	m  map[string]*bucket
	_  [40]byte
}

// Limiter is the token-bucket table (exported for tests and reuse).
type Limiter struct {
	rate, burst float64
	perShard    int
	seed        maphash.Seed
	shards      [shards]shard
	now         func() int64
}

// NewLimiter makes a limiter of rate tokens/s, bucket size burst, about maxKeys keys.
func NewLimiter(rate, burst float64, maxKeys int) *Limiter {
	l := &Limiter{rate: rate, burst: burst, perShard: max(1, maxKeys/shards), seed: maphash.MakeSeed(),
		now: func() int64 { return time.Now().UnixNano() }}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*bucket)
	}
	return l
}

// Allow takes a token for key; when none is left it returns how long until one is.
// key may be a view: it is cloned only when stored.
func (l *Limiter) Allow(key string) (ok bool, wait time.Duration) {
	sh := &l.shards[maphash.String(l.seed, key)%shards]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[key]
	if b == nil {
		if len(sh.m) >= l.perShard {
			l.evict(sh, now)
		}
		b = &bucket{tokens: l.burst, last: now}
		sh.m[strings.Clone(key)] = b
	}
	b.tokens = math.Min(l.burst, b.tokens+float64(now-b.last)/1e9*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * 1e9)
}

// evict drops buckets that have refilled completely (forgetting them loses
// nothing); if none has, an arbitrary one.
func (l *Limiter) evict(sh *shard, now int64) {
	for k, b := range sh.m {
		if b.tokens+float64(now-b.last)/1e9*l.rate >= l.burst {
			delete(sh.m, k)
		}
	}
	for k := range sh.m {
		if len(sh.m) < l.perShard {
			break
		}
		delete(sh.m, k)
	}
}

// Len is the number of buckets held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].m)
		l.shards[i].mu.Unlock()
	}
	return n
}

type filter struct {
	lim     *Limiter
	header  string // "" = client IP
	paths   []string
	limited *api.Counter
}

// New is the filter's factory.
func New(raw json.RawMessage) (api.Factory, error) {
	c := config{Key: "client_ip", MaxKeys: 100000}
	if err := api.DecodeConfig(raw, &c); err != nil {
		return nil, err
	}
	if c.Rate == 0 {
		c.Rate = c.RequestsPerSecond
	}
	if c.Rate <= 0 {
		return nil, errors.New("rate (tokens per second) must be > 0")
	}
	if c.Burst == 0 {
		c.Burst = math.Max(c.Rate, 1)
	}
	if c.Burst < 1 {
		return nil, errors.New("burst must be >= 1")
	}
	if c.MaxKeys < 1 {
		return nil, errors.New("max_keys must be >= 1")
	}
	f := &filter{lim: NewLimiter(c.Rate, c.Burst, c.MaxKeys), paths: c.Paths,
		limited: api.NewCounter("ratelimit", "limited_total", "Requests answered 429.")}
	switch {
	case c.Key == "client_ip":
	case strings.HasPrefix(c.Key, "header:") && len(c.Key) > len("header:"):
		f.header = strings.ToLower(strings.TrimPrefix(c.Key, "header:"))
	default:
		return nil, fmt.Errorf("key must be client_ip or header:<name>, got %q", c.Key)
	}
	return api.Shared(f), nil
}

func (f *filter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	if len(f.paths) > 0 {
		p, match := h.Path(), false
		for _, pre := range f.paths {
			if strings.HasPrefix(p, pre) {
				match = true
				break
			}
		}
		if !match {
			return api.Continue
		}
	}
	var key string
	if f.header != "" {
		key = h.Get(f.header)
	} else {
		key = s.Info().DownstreamAddr
	}
	ok, wait := f.lim.Allow(key)
	if ok {
		return api.Continue
	}
	f.limited.Inc()
	secs := int64(math.Ceil(wait.Seconds()))
	s.SendLocalReply(429, [][2]string{{"retry-after", strconv.FormatInt(max(secs, 1), 10)},
		{"content-type", "text/plain"}}, []byte("rate limited\n"))
	return api.LocalReply
}
