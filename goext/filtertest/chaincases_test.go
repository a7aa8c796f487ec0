package filtertest_test

import (
	"strconv"
	"testing"
	"time"

	"moe/goext/filtertest"
	"moe/goext/filtertest/chaincases"
)

func init() { chaincases.Register() }

// TestChainTable runs every row of the chain-scenario table
// (goext/filtertest/chaincases) through filtertest. The same rows run
// through the real moe in tests/integration/go_chain_table_test.go.
func TestChainTable(t *testing.T) {
	chaincases.Delay = time.Millisecond // filtertest waits for the resume whatever the delay
	chains := map[int]*filtertest.Chain{}
	for n := 1; n <= 3; n++ {
		var fs []filtertest.Filter
		for i := 0; i < n; i++ {
			fs = append(fs, filtertest.Filter{Name: "chaincase", Config: map[string]any{"index": i, "last": i == n-1}})
		}
		chains[n] = filtertest.MustChain(t, fs...)
	}
	failed := 0
	for i, c := range chaincases.Cases() {
		got := runFiltertestRow(t, chains[len(c.Filters)], c, strconv.Itoa(i))
		if diff := chaincases.Compare(c, got); diff != "" {
			failed++
			if failed <= 40 {
				t.Errorf("row %s: %s", c.Name, diff)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d rows failed", failed, len(chaincases.Cases()))
	}
	t.Logf("%d rows", len(chaincases.Cases()))
}

func runFiltertestRow(t *testing.T, ch *filtertest.Chain, c *chaincases.Case, run string) chaincases.Got {
	s := ch.NewStream(t)
	var g chaincases.Got
	req := filtertest.Headers{{"host", "cc"}, {chaincases.CaseHeader, c.Name}, {chaincases.RunHeader, run}}
	ended := func() bool { return s.Reply != nil }
	s.RequestHeaders(chaincases.Method, chaincases.Path, req, false)
	if !ended() {
		s.RequestBody([]byte(chaincases.ReqText), !c.ReqTrailers)
	}
	if !ended() && c.ReqTrailers {
		s.RequestTrailers(filtertest.Headers{{"x-cl-trailer", "cl"}})
	}
	if !ended() {
		g.Upstream = &chaincases.Upstream{Method: s.Request.Method, Path: s.Request.Path, Body: string(s.Request.Body),
			Chain: s.Request.Headers.Values(chaincases.ChainHdr), Trailers: trailerMap(s.Request.Trailers)}
		resp := filtertest.Headers{{"content-type", chaincases.RespType}}
		if !c.RespTrailers {
			resp = append(resp, [2]string{"content-length", strconv.Itoa(len(chaincases.RespText))})
		}
		s.ResponseHeaders(200, resp, false)
		if !ended() {
			s.ResponseBody([]byte(chaincases.RespText), !c.RespTrailers)
		}
		if !ended() && c.RespTrailers {
			s.ResponseTrailers(filtertest.Headers{{"x-up-trailer", "up"}})
		}
	}
	switch {
	case s.Reset:
		g.Client = chaincases.Client{Reset: true}
	case s.Reply != nil:
		g.Client = chaincases.Client{Status: s.Reply.Status, Body: string(s.Reply.Body),
			ContentType: s.Reply.Headers.Get("content-type"), Resp: s.Reply.Headers.Values(chaincases.RespHdr),
			Reply: s.Reply.Headers.Get(chaincases.ReplyHdr)}
	default:
		g.Client = chaincases.Client{Status: s.Response.Status, Body: string(s.Response.Body),
			ContentType: s.Response.Headers.Get("content-type"), Resp: s.Response.Headers.Values(chaincases.RespHdr),
			Trailers: trailerMap(s.Response.Trailers)}
	}
	s.Done(g.Client.Status)
	for _, l := range filtertest.Logs() {
		if r, log, ok := chaincases.ParseLogLine(l); ok && r == run {
			g.Log, g.HaveLog = log, true
		}
	}
	return g
}

func trailerMap(h filtertest.Headers) map[string]string {
	if len(h) == 0 {
		return nil
	}
	m := map[string]string{}
	for _, f := range h {
		m[f[0]] = f[1]
	}
	return m
}
