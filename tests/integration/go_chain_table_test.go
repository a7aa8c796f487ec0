package integration

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"moe/goext/filtertest/chaincases"
)

// TestGoChainTable runs every row of the chain-scenario table
// (goext/filtertest/chaincases; the same rows run through filtertest in
// goext/filtertest/chaincases_test.go) through the real moe: a real client
// over HTTP/1.1 and h2c, the test plugin's "chaincase" filters (chains of
// 1, 2 and 3 on three listeners; the row comes in x-chaincase), and a real
// upstream that records what it got. Each row runs with the request body
// sent with the head ("before" any filter's wait), half a Pending delay
// after it ("during") and after every wait the row can have ("after").
// The hook-call log comes back in the log line the last filter's OnDone
// writes (chaincases' package doc says why that channel).
func TestGoChainTable(t *testing.T) {
	requireGo(t)
	p := testPlugins(t)
	up := startChainUpstream(t)
	var b strings.Builder
	b.WriteString("workers: 2\nadmin: {address: \"{{admin}}\"}\nlog: {level: info, access_log: \"off\"}\n")
	b.WriteString(goYAMLPlugins(p.TestFilters))
	b.WriteString("listeners:\n")
	for n := 1; n <= 3; n++ {
		fmt.Fprintf(&b, "  - name: chain%d\n    address: \"{{chain%d}}\"\n    http2: true\n    filters:\n", n, n)
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "      - name: chaincase\n        config: {index: %d, last: %v}\n", i, i == n-1)
		}
		b.WriteString("    routes:\n      - match: {prefix: /}\n        cluster: up\n")
	}
	b.WriteString("clusters:\n  - name: up\n    endpoints: [\"{{up}}\"]\n")
	m := startMoe(t, b.String(), "up", up.addr)
	if os.Getenv("MOE_CHAINCASE") != "" {
		t.Cleanup(func() { // runs before moe's cleanup: keep its log for debugging
			data, _ := os.ReadFile(m.Stderr)
			os.WriteFile(os.TempDir()+"/moe-chaincase.stderr", data, 0o644)
		})
	}

	type run struct {
		c      *chaincases.Case
		proto  string // "h1", "h2"
		timing string // "before", "during", "after"
		id     string
	}
	var runs []*run
	only := os.Getenv("MOE_CHAINCASE") // a debugging aid: only the rows whose name contains it
	for i, c := range chaincases.Cases() {
		if only != "" && !strings.Contains(c.Name, only) {
			continue
		}
		for _, proto := range []string{"h1", "h2"} {
			for _, timing := range []string{"before", "during", "after"} {
				runs = append(runs, &run{c: c, proto: proto, timing: timing, id: fmt.Sprintf("%d.%s.%s", i, proto, timing)})
			}
		}
	}
	start := time.Now()
	got := make([]chaincases.Got, len(runs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= len(runs) {
					return
				}
				r := runs[k]
				got[k].Client = chainRequest(m.Addr(fmt.Sprintf("chain%d", len(r.c.Filters))), r.c, r.proto, r.timing, r.id)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d rows x 2 protocols x 3 timings = %d requests in %v", len(chaincases.Cases()), len(runs), time.Since(start).Round(time.Millisecond))

	// The log lines: OnDone runs after the client has its response, so wait
	// for every run's line (bounded).
	logs := map[string][]string{}
	waitFor(10*time.Second, func() bool {
		for _, f := range []string{m.Stderr, m.Stdout} {
			data, _ := os.ReadFile(f)
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				if id, l, ok := chaincases.ParseLogLine(sc.Text()); ok {
					logs[id] = l
				}
			}
		}
		return len(logs) >= len(runs)
	})
	failed := 0
	var all *os.File // MOE_CHAINCASE_OUT: every failed run, one a line (a debugging aid)
	if f := os.Getenv("MOE_CHAINCASE_OUT"); f != "" {
		all, _ = os.Create(f)
		defer all.Close()
	}
	// Every row must pass in every run: there is no list of known failures
	// (the last classes left it when proxy/stream_chain.cc made one event of
	// a stream at a time go through Go, issue 13).
	for k, r := range runs {
		g := &got[k]
		g.Log, g.HaveLog = logs[r.id]
		g.Upstream = up.request(r.id)
		if diff := chaincases.Compare(r.c, *g); diff != "" {
			if all != nil {
				fmt.Fprintf(all, "row %s over %s, body %s: %s\n", r.c.Name, r.proto, r.timing, strings.ReplaceAll(diff, "\n", " "))
			}
			failed++
			if failed <= 40 {
				t.Errorf("row %s over %s, body %s: %s", r.c.Name, r.proto, r.timing, diff)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d runs failed", failed, len(runs))
	}
}

// chainRequest sends row c's request and reads the response.
func chainRequest(addr string, c *chaincases.Case, proto, timing, id string) chaincases.Client {
	var body io.Reader = strings.NewReader(chaincases.ReqText)
	if timing != "before" {
		pr, pw := io.Pipe()
		wait := chaincases.Delay / 2
		if timing == "after" {
			wait = 4 * chaincases.Delay // past every Pending of the request side (at most 3 in a row)
		}
		go func() {
			time.Sleep(wait)
			pw.Write([]byte(chaincases.ReqText))
			pw.Close()
		}()
		body = pr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, chaincases.Method, "http://"+addr+chaincases.Path, body)
	if err != nil {
		return chaincases.Client{Body: "request: " + err.Error()}
	}
	req.Header.Set(chaincases.CaseHeader, c.Name)
	req.Header.Set(chaincases.RunHeader, id)
	if c.ReqTrailers {
		req.ContentLength = -1
		req.Trailer = http.Header{"X-Cl-Trailer": nil}
		// The trailer's value is read when the body is done.
		req.Body = &trailerBody{r: body, req: req}
	} else {
		req.ContentLength = int64(len(chaincases.ReqText))
	}
	var rt http.RoundTripper
	if proto == "h1" {
		tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		rt = tr
	} else {
		tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, a)
		}}
		defer tr.CloseIdleConnections()
		rt = tr
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		if os.Getenv("MOE_CHAINCASE") != "" {
			fmt.Fprintf(os.Stderr, "%s %s: %v\n", id, c.Name, err)
		}
		return chaincases.Client{Reset: true}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		if os.Getenv("MOE_CHAINCASE") != "" {
			fmt.Fprintf(os.Stderr, "%s %s: body: %v\n", id, c.Name, err)
		}
		return chaincases.Client{Reset: true}
	}
	cl := chaincases.Client{Status: resp.StatusCode, Body: string(b), ContentType: resp.Header.Get("Content-Type"),
		Resp: resp.Header.Values(chaincases.RespHdr), Reply: resp.Header.Get(chaincases.ReplyHdr)}
	if len(resp.Trailer) > 0 {
		cl.Trailers = map[string]string{}
		for k, v := range resp.Trailer {
			if len(v) > 0 {
				cl.Trailers[strings.ToLower(k)] = v[0]
			}
		}
		if len(cl.Trailers) == 0 {
			cl.Trailers = nil
		}
	}
	return cl
}

// trailerBody sets the request's trailer value when its body is read out
// (net/http sends req.Trailer after the body).
type trailerBody struct {
	r   io.Reader
	req *http.Request
}

func (b *trailerBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.req.Trailer.Set("X-Cl-Trailer", "cl")
	}
	return n, err
}

func (b *trailerBody) Close() error { return nil }

// chainUpstream is the table's upstream (net/http, HTTP/1.1): it reads the
// whole request, records it under its run id, and answers 200 with
// chaincases.RespText (and the trailer when the row has response trailers).
type chainUpstream struct {
	addr string
	mu   sync.Mutex
	reqs map[string]*chaincases.Upstream
}

func startChainUpstream(t *testing.T) *chainUpstream {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &chainUpstream{addr: ln.Addr().String(), reqs: map[string]*chaincases.Upstream{}}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return // an incomplete request: not recorded
		}
		rec := &chaincases.Upstream{Method: r.Method, Path: r.URL.RequestURI(), Body: string(body), Chain: r.Header.Values(chaincases.ChainHdr)}
		for k, v := range r.Trailer {
			if len(v) > 0 {
				if rec.Trailers == nil {
					rec.Trailers = map[string]string{}
				}
				rec.Trailers[strings.ToLower(k)] = v[0]
			}
		}
		u.mu.Lock()
		u.reqs[r.Header.Get(chaincases.RunHeader)] = rec
		u.mu.Unlock()
		c := chaincases.Lookup(r.Header.Get(chaincases.CaseHeader))
		w.Header().Set("Content-Type", chaincases.RespType)
		if c != nil && c.RespTrailers {
			w.Header().Set("Trailer", "X-Up-Trailer")
			io.WriteString(w, chaincases.RespText)
			w.Header().Set("X-Up-Trailer", "up")
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(chaincases.RespText)))
		io.WriteString(w, chaincases.RespText)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return u
}

func (u *chainUpstream) request(id string) *chaincases.Upstream {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.reqs[id]
}
