// Package chaincases is the table of Go filter chain scenarios that runs
// through both filtertest (goext/filtertest/chaincases_test.go) and the
// real moe binary (tests/integration/go_chain_table_test.go), so the two
// implementations of the chain's event handling cannot drift apart: both
// must pass the same rows (docs/go-filters.md, "Chain semantics").
//
// It holds the one configurable test filter ("chaincase", registered by
// Register) and the rows (Cases). A row names, per filter of the chain and
// per hook, the Status the hook returns; the filter reads its row from the
// request's x-chaincase header, so one moe listener per chain length runs
// every row. Each hook appends to the stream's call log; the last filter's
// OnDone writes the log as one log line (api.Log), which is how the log
// comes back from moe: OnDone is the only point after every hook of both
// directions has run, it runs for local replies and resets too, and a log
// line changes nothing the client or the upstream sees (a header or a
// trailer would be part of what the table checks, and an HTTP/1.1 response
// without trailers has no place after its body hooks).
//
// The package imports only goext/api: the test plugin that registers the
// filter for moe imports it too.
package chaincases

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"moe/goext/api"
)

// Status is what a hook of a row's filter does.
type Status uint8

const (
	Continue Status = iota
	// Buffer returns api.StopAndBuffer (a body hook: on the chunks before
	// the end; a trailers hook: once, which moe treats as Continue).
	Buffer
	// Pending returns api.Pending and resumes from a goroutine after Delay.
	Pending
	// Reply calls SendLocalReply(ReplyStatus, x-cc-reply: <filter>.<hook>,
	// "reply <filter>.<hook>\n") and returns api.LocalReply.
	Reply
)

func (s Status) String() string {
	return [...]string{"C", "B", "P", "R"}[s]
}

// Hook is one of the six event hooks.
type Hook uint8

const (
	ReqHeaders Hook = iota
	ReqBody
	ReqTrailers
	RespHeaders
	RespBody
	RespTrailers
	NumHooks
)

var hookTags = [NumHooks]string{"rqh", "rqb", "rqt", "rsh", "rsb", "rst"}

func (h Hook) String() string { return hookTags[h] }

// Delay is how long a Pending hook waits before it resumes (a variable:
// filtertest, whose events wait for the resume anyway, shortens it).
var Delay = 60 * time.Millisecond

// ReplyStatus is the status of a filter's local reply.
const ReplyStatus = 418

// Header names the filter and the tests use.
const (
	CaseHeader = "x-chaincase"     // the row's name (request)
	RunHeader  = "x-chaincase-run" // a unique id per request: the log line names it
	ChainHdr   = "x-cc-chain"      // each request-headers hook adds its filter's name (upstream sees the order)
	RespHdr    = "x-cc-resp"       // each response-headers hook adds its filter's name (client sees it)
	ReplyHdr   = "x-cc-reply"      // a local reply's <filter>.<hook>
	LogPrefix  = "chaincase run="  // the log line: "chaincase run=<id> log=<entries>"
)

// FilterName is the name of filter i of a chain ("F0", "F1", "F2"); it is
// the name in the log and the letter its body hooks upper-case ('a'+i).
func FilterName(i int) string { return "F" + strconv.Itoa(i) }

type config struct {
	Index int  `json:"index"` // the filter's position in the chain
	Last  bool `json:"last"`  // the last filter: its OnDone writes the log line
}

// Register registers the "chaincase" filter. Call it once, from an init
// (the test plugin's, or a test package's). Its config: {"index": i,
// "last": bool}.
func Register() {
	api.Register("chaincase", func(raw json.RawMessage) (api.Factory, error) {
		var c config
		if err := api.DecodeConfig(raw, &c); err != nil {
			return nil, err
		}
		if c.Index < 0 || c.Index > 25 {
			return nil, fmt.Errorf("index must be 0..25, got %d", c.Index)
		}
		return factory(c), nil
	})
}

type factory config

func (f factory) NewFilter(s *api.Stream) api.Filter {
	return &filter{cfg: config(f)}
}

// filter is one stream's instance (not Shared: it keeps per-stream state).
type filter struct {
	cfg   config
	row   *Case
	fired [NumHooks]bool // the row's status was applied (once per hook per stream)
	seen  [NumHooks]bool // the hook was called (body hooks log their first call only)
	bytes [NumHooks]int  // body bytes accepted (calls not answered with Buffer)
}

var (
	_ api.RequestHeadersFilter   = (*filter)(nil)
	_ api.RequestBodyFilter      = (*filter)(nil)
	_ api.RequestTrailersFilter  = (*filter)(nil)
	_ api.ResponseHeadersFilter  = (*filter)(nil)
	_ api.ResponseBodyFilter     = (*filter)(nil)
	_ api.ResponseTrailersFilter = (*filter)(nil)
	_ api.DoneFilter             = (*filter)(nil)
)

const logKey = "chaincase.log"

func (f *filter) name() string { return FilterName(f.cfg.Index) }

func (f *filter) log(s *api.Stream, entry string) {
	prev, _ := s.Get(logKey)
	if prev != "" {
		prev += " "
	}
	s.Set(logKey, prev+entry)
}

// status is the row's status for hook h, applied once per stream.
func (f *filter) status(h Hook) Status {
	if f.row == nil || f.cfg.Index >= len(f.row.Filters) || f.fired[h] {
		return Continue
	}
	f.fired[h] = true
	return f.row.Filters[f.cfg.Index][h]
}

// act turns a status into the hook's return.
func (f *filter) act(s *api.Stream, h Hook, st Status) api.Status {
	switch st {
	case Buffer:
		return api.StopAndBuffer
	case Pending:
		d := Delay
		s.Go(func() {
			time.Sleep(d)
			s.Resume()
		})
		return api.Pending
	case Reply:
		tag := f.name() + "." + h.String()
		s.SendLocalReply(ReplyStatus, [][2]string{{ReplyHdr, tag}}, []byte("reply "+tag+"\n"))
		return api.LocalReply
	}
	return api.Continue
}

func (f *filter) headers(s *api.Stream, h Hook) api.Status {
	f.seen[h] = true
	f.log(s, f.name()+"."+h.String())
	return f.act(s, h, f.status(h))
}

func (f *filter) OnRequestHeaders(s *api.Stream, h *api.RequestHeaders, _ bool) api.Status {
	if f.row == nil {
		name, _ := h.Lookup(CaseHeader)
		f.row = Lookup(name)
	}
	h.Add(ChainHdr, f.name())
	return f.headers(s, ReqHeaders)
}

func (f *filter) OnResponseHeaders(s *api.Stream, h *api.ResponseHeaders, _ bool) api.Status {
	h.Add(RespHdr, f.name())
	return f.headers(s, RespHeaders)
}

func (f *filter) OnRequestTrailers(s *api.Stream, t *api.Header) api.Status {
	t.Set("x-cc-rqt-"+strings.ToLower(f.name()), "1")
	return f.headers(s, ReqTrailers)
}

func (f *filter) OnResponseTrailers(s *api.Stream, t *api.Header) api.Status {
	t.Set("x-cc-rst-"+strings.ToLower(f.name()), "1")
	return f.headers(s, RespTrailers)
}

func (f *filter) OnRequestBody(s *api.Stream, b *api.Body, end bool) api.Status {
	return f.body(s, ReqBody, b, end)
}

func (f *filter) OnResponseBody(s *api.Stream, b *api.Body, end bool) api.Status {
	return f.body(s, RespBody, b, end)
}

// body logs the hook's first call; a Buffer status answers every call
// before the end with StopAndBuffer (those bytes come again), the other
// statuses apply to the first call. Accepted bytes are counted (the log's
// "F0.rqb=11" at the end: a filter that saw the body twice, or missed part
// of it, shows) and get the filter's letter upper-cased (same size: a
// committed head's Content-Length stays right), so the far end shows
// that the body went through the hook.
func (f *filter) body(s *api.Stream, h Hook, b *api.Body, end bool) api.Status {
	if !f.seen[h] {
		f.seen[h] = true
		f.log(s, f.name()+"."+h.String())
	}
	st := Continue
	if f.row != nil && f.cfg.Index < len(f.row.Filters) && f.row.Filters[f.cfg.Index][h] == Buffer {
		if !end {
			return api.StopAndBuffer
		}
	} else {
		st = f.status(h)
	}
	if st != Reply {
		f.bytes[h] += b.Len()
		if p := b.Bytes(); bytes.IndexByte(p, Letter(f.cfg.Index)) >= 0 {
			b.Replace(bytes.ReplaceAll(p, []byte{Letter(f.cfg.Index)}, []byte{Letter(f.cfg.Index) - 'a' + 'A'}))
		}
	}
	return f.act(s, h, st)
}

// Letter is the body byte filter i upper-cases.
func Letter(i int) byte { return 'a' + byte(i) }

func (f *filter) OnDone(s *api.Stream, _ api.DoneInfo) {
	for _, h := range []Hook{ReqBody, RespBody} {
		if f.seen[h] {
			f.log(s, fmt.Sprintf("%s.%s=%d", f.name(), h, f.bytes[h]))
		}
	}
	if !f.cfg.Last {
		return
	}
	// The last filter may never have seen the request (a reply before it).
	if run, ok := s.RequestHeaders().Lookup(RunHeader); ok {
		l, _ := s.Get(logKey)
		api.Log(api.LevelInfo, LogPrefix+run+" log="+l)
	}
}

// ParseLogLine returns the run id and the call log of a log line the last
// filter wrote (ok false for any other line).
func ParseLogLine(line string) (run string, log []string, ok bool) {
	i := strings.Index(line, LogPrefix)
	if i < 0 {
		return "", nil, false
	}
	rest := line[i+len(LogPrefix):]
	run, l, found := strings.Cut(rest, " log=")
	if !found {
		return "", nil, false
	}
	return run, strings.Fields(l), true
}
