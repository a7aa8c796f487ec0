package chaincases

import (
	"bytes"
	"sort"
	"strings"
	"sync"
)

// Spec is one filter of a row: the status of each hook.
type Spec [NumHooks]Status

// Case is one row: the chain, what the client and the upstream send, and
// what must come out.
type Case struct {
	Name    string
	Filters []Spec // 1 to 3 filters: F0, F1, F2
	// The client's request is always POST /cc with body ReqText; with
	// ReqTrailers it ends with the trailer x-cl-trailer: cl (chunked on
	// HTTP/1.1). The upstream answers 200 with body RespText, and with
	// RespTrailers the trailer x-up-trailer: up.
	ReqTrailers, RespTrailers bool
	Want                      Want
}

// Want is a row's expectation, derived from the documented rules
// (docs/go-filters.md, "Chain semantics") by expect.
type Want struct {
	Log      []string  // the hook-call log
	Upstream *Upstream // nil: no complete request reaches the upstream
	Client   Client
}

// Upstream is the request the upstream must get.
type Upstream struct {
	Method, Path, Body string
	Chain              []string          // the x-cc-chain values, in order
	Trailers           map[string]string // nil: none
}

// Client is the response the client must get.
type Client struct {
	Reset       bool // the response is cut (HTTP/1.1: closed; h2: RST_STREAM); the rest is not checked
	Status      int
	Body        string
	ContentType string
	Resp        []string          // the x-cc-resp values, in order
	Reply       string            // x-cc-reply ("" for the upstream's response)
	Trailers    map[string]string // nil: none
}

// The fixed messages.
const (
	Method    = "POST"
	Path      = "/cc"
	ReqText   = "abc-abc-abc"
	RespText  = "cab-cab-cab"
	RespType  = "text/x-upstream"
	ReplyType = "text/plain" // moe's content-type for a reply with a body and none of its own
)

// ClientTrailers and UpstreamTrailers are what the two ends send with
// ReqTrailers / RespTrailers.
var (
	ClientTrailers   = map[string]string{"x-cl-trailer": "cl"}
	UpstreamTrailers = map[string]string{"x-up-trailer": "up"}
)

// Name is the row name for a chain: each filter's six statuses (rqh rqb rqt
// rsh rsb rst as C, B, P, R), "-" between filters, "+t" with trailers.
func Name(filters []Spec, trailers bool) string {
	var b strings.Builder
	for i, f := range filters {
		if i > 0 {
			b.WriteByte('-')
		}
		for _, s := range f {
			b.WriteString(s.String())
		}
	}
	if trailers {
		b.WriteString("+t")
	}
	return b.String()
}

var table struct {
	once  sync.Once
	cases []*Case
	byNm  map[string]*Case
}

// Cases returns every row (the same slice each time; do not modify it).
func Cases() []*Case {
	table.once.Do(build)
	return table.cases
}

// Lookup returns the row named name, nil if none.
func Lookup(name string) *Case {
	table.once.Do(build)
	return table.byNm[name]
}

// build generates the rows: every chain of 1 to 3 filters with one hook
// not Continue (each status on each hook of each filter), every chain of 2
// filters with one such hook on each, and chains of 3 whose first filter is
// Pending on a headers hook, the second Continue, Buffer or Pending on the
// same hook and the third anything on any hook (the case of issue 13:
// later filters that want what arrived during an earlier filter's wait).
// Each with and without trailers on both sides.
func build() {
	table.byNm = map[string]*Case{}
	add := func(fs []Spec) {
		for _, tr := range []bool{false, true} {
			c := &Case{Filters: append([]Spec(nil), fs...), ReqTrailers: tr, RespTrailers: tr}
			c.Name = Name(c.Filters, tr)
			if table.byNm[c.Name] != nil {
				continue
			}
			c.Want = expect(c)
			table.byNm[c.Name] = c
			table.cases = append(table.cases, c)
		}
	}
	type one struct {
		h Hook
		s Status
	}
	var ones []one
	for h := Hook(0); h < NumHooks; h++ {
		for _, s := range []Status{Buffer, Pending, Reply} {
			ones = append(ones, one{h, s})
		}
	}
	for n := 1; n <= 3; n++ {
		add(make([]Spec, n))
		for i := 0; i < n; i++ {
			for _, o := range ones {
				fs := make([]Spec, n)
				fs[i][o.h] = o.s
				add(fs)
			}
		}
	}
	for _, a := range ones {
		for _, b := range ones {
			fs := make([]Spec, 2)
			fs[0][a.h], fs[1][b.h] = a.s, b.s
			add(fs)
		}
	}
	for _, h := range []Hook{ReqHeaders, RespHeaders} {
		for _, mid := range []Status{Continue, Buffer, Pending} {
			for _, c := range ones {
				fs := make([]Spec, 3)
				fs[0][h], fs[1][h] = Pending, mid
				fs[2][c.h] = c.s
				add(fs)
			}
		}
	}
	sort.Slice(table.cases, func(i, j int) bool { return table.cases[i].Name < table.cases[j].Name })
}

// expect derives a row's expectation from the documented chain rules
// (docs/go-filters.md, "Chain semantics"); the rule numbers are the doc's.
func expect(c *Case) Want {
	n := len(c.Filters)
	st := func(i int, h Hook) Status { return c.Filters[i][h] }
	var log []string
	var seen [3][NumHooks]bool
	var count [3][NumHooks]int
	entry := func(i int, h Hook) { log = append(log, FilterName(i)+"."+h.String()) }
	reply := func(i int, h Hook) Client {
		tag := FilterName(i) + "." + h.String()
		return Client{Status: ReplyStatus, Body: "reply " + tag + "\n", ContentType: ReplyType, Reply: tag}
	}
	// replyPass: a local reply passes the response-headers hooks of filters
	// 0..last (rule 2 and "Replies moe makes itself": a status other than
	// Continue is ignored there, the pass goes on).
	replyPass := func(cl *Client, last int) {
		for i := 0; i <= last; i++ {
			entry(i, RespHeaders)
			cl.Resp = append(cl.Resp, FilterName(i))
		}
	}
	var w Want
	done := func() Want {
		for i := 0; i < n; i++ {
			for _, h := range []Hook{ReqBody, RespBody} {
				if seen[i][h] {
					log = append(log, FilterName(i)+"."+h.String()+"="+itoa(count[i][h]))
				}
			}
		}
		w.Log = log
		return w
	}

	// Request side (rules 1, 3): every filter's headers hook in order, then
	// every filter's body hook on the whole body (a Buffer from a headers
	// hook holds the head and delivers the body to every body hook; Pending
	// is Continue after the wait, whatever arrived meanwhile), then the
	// trailers hooks. A reply stops the direction at its filter.
	body := []byte(ReqText)
	var rqt map[string]string
	if c.ReqTrailers {
		rqt = map[string]string{"x-cl-trailer": "cl"}
	}
	up := &Upstream{Method: Method, Path: Path}
	for i := 0; i < n; i++ {
		entry(i, ReqHeaders)
		up.Chain = append(up.Chain, FilterName(i))
		if st(i, ReqHeaders) == Reply {
			w.Client = reply(i, ReqHeaders)
			replyPass(&w.Client, i)
			return done()
		}
	}
	for i := 0; i < n; i++ {
		entry(i, ReqBody)
		seen[i][ReqBody] = true
		if st(i, ReqBody) == Reply {
			w.Client = reply(i, ReqBody)
			replyPass(&w.Client, i)
			return done()
		}
		count[i][ReqBody] = len(body)
		body = bytes.ReplaceAll(body, []byte{Letter(i)}, []byte{Letter(i) - 'a' + 'A'})
	}
	if c.ReqTrailers {
		for i := 0; i < n; i++ {
			entry(i, ReqTrailers)
			rqt["x-cc-rqt-f"+itoa(i)] = "1"
			if st(i, ReqTrailers) == Reply {
				w.Client = reply(i, ReqTrailers)
				replyPass(&w.Client, i)
				return done()
			}
		}
	}
	up.Body, up.Trailers = string(body), rqt
	w.Upstream = up

	// Response side: headers hooks, body hooks, trailers hooks, in order
	// (rule 6: a Buffer from a headers hook holds the head until the body is
	// whole, and the trailers come after it). A reply while the head is
	// held replaces the response and passes every filter's headers hook; a
	// reply once the head is out cuts the response.
	held := true // the head has not gone to the client
	cl := Client{Status: 200, ContentType: RespType}
	for i := 0; i < n; i++ {
		entry(i, RespHeaders)
		cl.Resp = append(cl.Resp, FilterName(i))
		if st(i, RespHeaders) == Reply {
			w.Client = reply(i, RespHeaders)
			replyPass(&w.Client, n-1)
			return done()
		}
	}
	held = false
	for i := 0; i < n; i++ {
		if st(i, RespHeaders) == Buffer {
			held = true
		}
	}
	rbody := []byte(RespText)
	for i := 0; i < n; i++ {
		entry(i, RespBody)
		seen[i][RespBody] = true
		if st(i, RespBody) == Reply {
			if held {
				w.Client = reply(i, RespBody)
				replyPass(&w.Client, n-1)
			} else {
				w.Client = Client{Reset: true}
			}
			return done()
		}
		count[i][RespBody] = len(rbody)
		rbody = bytes.ReplaceAll(rbody, []byte{Letter(i)}, []byte{Letter(i) - 'a' + 'A'})
	}
	cl.Body = string(rbody)
	if c.RespTrailers {
		cl.Trailers = map[string]string{"x-up-trailer": "up"}
		for i := 0; i < n; i++ {
			entry(i, RespTrailers)
			cl.Trailers["x-cc-rst-f"+itoa(i)] = "1"
			if st(i, RespTrailers) == Reply {
				if held {
					w.Client = reply(i, RespTrailers)
					replyPass(&w.Client, n-1)
				} else {
					w.Client = Client{Reset: true}
				}
				return done()
			}
		}
	}
	w.Client = cl
	return done()
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return string(rune('0'+i/10)) + string(rune('0'+i%10))
}
