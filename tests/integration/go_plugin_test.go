package integration

// Go plugins loaded by moe: the test plugin (testdata/goplugins/testfilters)
// for panics, StopAndBuffer, local replies and async streams under GC; the
// hello example; and the ways loading a plugin or a filter can fail.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// pluginYAML: the plugins, then listeners (each "name|addr-placeholder|filters
// block"), all routed to cluster up at {{up}}.
func pluginYAML(workers int, plugins []string, listeners ...[3]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "workers: %d\nadmin: {address: \"{{admin}}\"}\nlog: {level: info, access_log: \"off\"}\n", workers)
	b.WriteString(goYAMLPlugins(plugins...))
	b.WriteString("listeners:\n")
	for _, l := range listeners {
		fmt.Fprintf(&b, "  - name: %s\n    address: \"{{%s}}\"\n    filters:\n%s\n    routes:\n      - match: {prefix: /}\n        cluster: up\n",
			l[0], l[1], strings.TrimRight(l[2], "\n"))
	}
	b.WriteString("clusters:\n  - name: up\n    endpoints: [\"{{up}}\"]\n")
	return b.String()
}

// TestGoFilterPanicReturns500: a filter that panics fails only its stream:
// 500 (fail_closed, the default), the panic is counted and logged, the
// upstream gets nothing, and the next request is served; with on_error:
// fail_open the request goes on to the upstream.
func TestGoFilterPanicReturns500(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	m := startMoe(t, pluginYAML(2, []string{p.TestFilters},
		[3]string{"closed", "listen", "      - name: test_panic"},
		[3]string{"open", "listen2", "      - name: test_panic\n        on_error: fail_open\n      - name: headers\n        config: {request_set: {x-after-panic: ran}}"},
	), "up", up.Addr)

	panics0 := goStat(t, m, "panics")
	st, _, b := httpGet(t, m.URL("/boom"), "X-Panic", "1")
	if st != 500 {
		t.Fatalf("panicking filter: status %d, want 500: %s", st, b)
	}
	if up.accepted.Load() != 0 {
		t.Errorf("upstream got a connection for the panicked request")
	}
	if v := goStat(t, m, "panics"); v != panics0+1 {
		t.Errorf("/go panics %v, want %v", v, panics0+1)
	}
	if !waitFor(5*time.Second, func() bool {
		return strings.Contains(readFileString(m.Stderr), "the request asked for a panic")
	}) {
		t.Errorf("moe's log does not have the panic message (want it with the stack at error level)")
	}
	for i := 0; i < 3; i++ {
		if st, _, b := httpGet(t, m.URL("/fine")); st != 200 {
			t.Fatalf("request after the panic: status %d: %s", st, b)
		}
	}

	// fail_open: the chain goes on after the panicking filter.
	st, _, b = httpGet(t, "http://"+m.Addr("listen2")+"/boom", "X-Panic", "1")
	if st != 200 {
		t.Fatalf("fail_open panicking filter: status %d, want 200: %s", st, b)
	}
	e := decodeEcho(t, b)
	if got := e.Header["X-After-Panic"]; len(got) != 1 {
		t.Errorf("the filter after the panicking one did not run: upstream headers %v", e.Header)
	}
	if v := goStat(t, m, "panics"); v != panics0+2 {
		t.Errorf("/go panics %v after the fail_open panic, want %v", v, panics0+2)
	}
	// docs/go-filters.md: moe_go_filter_panics_total{filter="x"} goes up.
	t.Run("panics_total_on_stats", func(t *testing.T) {
		if v, ok := statValue(t, m, "moe_go_filter_panics_total", map[string]string{"filter": "test_panic"}); !ok || v != 2 {
			t.Errorf("/stats moe_go_filter_panics_total{filter=\"test_panic\"} = %v (present %v), want 2", v, ok)
		}
	})
}

// TestGoStopAndBufferRequestBody: a filter that returns StopAndBuffer from
// its request-headers hook sees the whole body once and replaces it
// (upper-cased plus "!"); the upstream receives the new body with a matching
// Content-Length. Over the limit (the listener's max_request_body, else 8
// MiB) the client gets 413 and the upstream nothing.
func TestGoStopAndBufferRequestBody(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	filters := "      - name: test_upper\n        config: {suffix: \"!\"}"
	y := pluginYAML(1, []string{p.TestFilters}, [3]string{"main", "listen", filters}, [3]string{"small", "listen2", filters})
	y = strings.Replace(y, "  - name: small\n    address: \"{{listen2}}\"\n", "  - name: small\n    address: \"{{listen2}}\"\n    limits: {max_request_body: 4KiB}\n", 1)
	// And a route of its own limit on the first listener.
	y = strings.Replace(y, "    routes:\n", "    routes:\n      - match: {prefix: /capped}\n        max_request_body: 4KiB\n        cluster: up\n", 1)
	m := startMoe(t, y, "up", up.Addr)

	check := func(t *testing.T, r *upReq, want string) {
		t.Helper()
		if r.BodyLen != int64(len(want)) || r.BodySHA != sha([]byte(want)) {
			t.Fatalf("upstream body %q (%d bytes), want %q (%d bytes)", truncate(r.Body, 100), r.BodyLen,
				truncate([]byte(want), 100), len(want))
		}
		cl := r.Header.Values("Content-Length")
		if r.Chunked {
			if len(cl) != 0 {
				t.Fatalf("upstream request has Content-Length %q and chunked", cl)
			}
			t.Logf("note: the buffered body went upstream chunked")
			return
		}
		if len(cl) != 1 || cl[0] != strconv.Itoa(len(want)) {
			t.Fatalf("upstream Content-Length %q, body is %d bytes", cl, len(want))
		}
	}
	last := func(t *testing.T) *upReq {
		t.Helper()
		rs := up.Requests()
		if len(rs) == 0 {
			t.Fatal("upstream received nothing")
		}
		return rs[len(rs)-1]
	}

	t.Run("content_length", func(t *testing.T) {
		st, _, b := httpDo(t, newClient(), "POST", m.URL("/cl"), strings.NewReader("hello, moe"))
		if st != 200 {
			t.Fatalf("status %d: %s", st, b)
		}
		check(t, last(t), "HELLO, MOE!")
	})
	t.Run("chunked", func(t *testing.T) {
		c := dial(t, m.Addr("listen"))
		fmt.Fprint(c, "POST /chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n")
		time.Sleep(50 * time.Millisecond)
		fmt.Fprint(c, "3\r\ndef\r\n")
		time.Sleep(50 * time.Millisecond)
		fmt.Fprint(c, "4\r\nghij\r\n0\r\n\r\n")
		resp := readResponse(t, bufio.NewReader(c), "POST")
		if resp.Status != 200 {
			t.Fatalf("status %d: %s", resp.Status, resp.Body)
		}
		check(t, last(t), "ABCDEFGHIJ!")
	})
	t.Run("large_under_default_limit", func(t *testing.T) {
		body := bytes.Repeat([]byte("abcdefgh"), 128<<10) // 1 MiB
		st, _, b := httpDo(t, newClient(), "POST", m.URL("/large"), bytes.NewReader(body))
		if st != 200 {
			t.Fatalf("status %d: %s", st, b)
		}
		check(t, last(t), string(bytes.ToUpper(body))+"!")
	})
	// Over the limit: the headers were held too, so the upstream sees nothing.
	over := func(t *testing.T, addr, head string, body []byte) {
		t.Helper()
		acc, in := up.accepted.Load(), up.BytesIn()
		c := dial(t, addr)
		go func() {
			c.SetWriteDeadline(time.Now().Add(20 * time.Second))
			c.Write([]byte(head))
			c.Write(body)
		}()
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		code, line, err := readStatusLine(bufio.NewReader(c))
		if err != nil || code != 413 {
			t.Fatalf("got %q %v, want 413", line, err)
		}
		if up.accepted.Load() != acc || up.BytesIn() != in {
			t.Fatalf("upstream got %d new connections and %d bytes for a request over the limit, want none",
				up.accepted.Load()-acc, up.BytesIn()-in)
		}
	}
	chunkedWith := func(n int, trailers string) []byte {
		var b bytes.Buffer
		for n > 0 {
			k := min(n, 64<<10)
			fmt.Fprintf(&b, "%x\r\n%s\r\n", k, bytes.Repeat([]byte("z"), k))
			n -= k
		}
		b.WriteString("0\r\n" + trailers + "\r\n")
		return b.Bytes()
	}
	chunked := func(n int) []byte { return chunkedWith(n, "") }
	t.Run("chunked_over_listener_limit_413", func(t *testing.T) {
		over(t, m.Addr("listen2"), "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", chunked(8<<10))
	})
	// With trailers the buffered body stays unsized (chunked upstream): the
	// limit is checked on the bytes, not on a Content-Length. It was not,
	// and such a body went upstream whole (issue 13).
	t.Run("chunked_with_trailers_over_listener_limit_413", func(t *testing.T) {
		over(t, m.Addr("listen2"), "POST /big HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", chunkedWith(8<<10, "x-sum: 1\r\n"))
	})
	t.Run("chunked_with_trailers_over_route_limit_413", func(t *testing.T) {
		over(t, m.Addr("listen"), "POST /capped HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", chunkedWith(8<<10, "x-sum: 1\r\n"))
	})
	t.Run("chunked_over_route_limit_413", func(t *testing.T) {
		over(t, m.Addr("listen"), "POST /capped HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", chunked(8<<10))
	})
	t.Run("content_length_over_listener_limit_413", func(t *testing.T) {
		over(t, m.Addr("listen2"), "POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 8192\r\n\r\n", bytes.Repeat([]byte("z"), 8192))
	})
	t.Run("chunked_over_default_buffer_limit_413", func(t *testing.T) {
		over(t, m.Addr("listen"), "POST /huge HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n", chunked(9<<20))
	})
	// Still serving.
	st, _, b := httpDo(t, newClient(), "POST", "http://"+m.Addr("listen2")+"/after", strings.NewReader("ok"))
	if st != 200 {
		t.Fatalf("after the 413s: status %d: %s", st, b)
	}
	check(t, last(t), "OK!")
}

// TestGoLocalReplyFromRequestHeaders: a filter's SendLocalReply from the
// request-headers hook reaches the client as sent (status, headers, body,
// a matching Content-Length) and the upstream receives nothing.
func TestGoLocalReplyFromRequestHeaders(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	m := startMoe(t, pluginYAML(1, []string{p.TestFilters},
		[3]string{"main", "listen", "      - name: test_reply\n        config: {status: 403, body: \"no entry for you\\n\"}"}), "up", up.Addr)

	for _, method := range []string{"GET", "POST"} {
		c := dial(t, m.Addr("listen"))
		if method == "GET" {
			fmt.Fprint(c, "GET /deny/me?q=1 HTTP/1.1\r\nHost: h\r\nX-Deny: 1\r\n\r\n")
		} else {
			fmt.Fprint(c, "POST /deny/me?q=1 HTTP/1.1\r\nHost: h\r\nX-Deny: 1\r\nContent-Length: 5\r\n\r\nhello")
		}
		resp := readRawResponse(t, bufio.NewReader(c), method)
		if resp.Status != 403 {
			t.Fatalf("%s: status %d, want 403: %q", method, resp.Status, resp.Body)
		}
		if string(resp.Body) != "no entry for you\n" {
			t.Errorf("%s: body %q", method, resp.Body)
		}
		if cl := resp.Header.Values("Content-Length"); len(cl) != 1 || cl[0] != strconv.Itoa(len(resp.Body)) {
			t.Errorf("%s: Content-Length %q for a %d-byte body", method, cl, len(resp.Body))
		}
		for k, v := range map[string]string{"X-Reply-By": "test_reply", "X-Reply-Path": "/deny/me?q=1", "Content-Type": "text/plain; charset=utf-8"} {
			if got := resp.Header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("%s: %s = %q, want [%s]", method, k, got, v)
			}
		}
	}
	if up.accepted.Load() != 0 || up.BytesIn() != 0 {
		t.Fatalf("upstream accepted %d connections / read %d bytes for local replies, want nothing", up.accepted.Load(), up.BytesIn())
	}
	if st, _, b := httpGet(t, m.URL("/pass")); st != 200 {
		t.Fatalf("request without x-deny: status %d: %s", st, b)
	}
}

// TestGoPluginHelloLoads: goext/examples/hello, built with
// scripts/build-plugin.sh and named in go.plugins, adds x-hello: world.
func TestGoPluginHelloLoads(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	m := startMoe(t, pluginYAML(1, []string{p.Hello}, [3]string{"main", "listen", "      - name: hello"}), "up", up.Addr)
	for _, path := range []string{"/", "/a/b?c=d"} {
		st, h, b := httpGet(t, m.URL(path))
		if st != 200 {
			t.Fatalf("GET %s: status %d: %s", path, st, b)
		}
		if got := h.Values("X-Hello"); len(got) != 1 || got[0] != "world" {
			t.Fatalf("GET %s: X-Hello %q, want [world]", path, got)
		}
	}
}

// TestGoPluginFailures: startup and --validate refuse what cannot work, and
// say why: a missing .so (its path), a plugin built without the script (how
// to rebuild), a filter nobody registered and a filter config its factory
// rejects (the filter, its message and the YAML line).
func TestGoPluginFailures(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	bin := moeBin(t)
	dir := t.TempDir()
	write := func(name, plugins, filters string) (string, string) {
		// The filter item starts on line 9 (see below); its config on 10.
		text := fmt.Sprintf(`workers: 1
admin: {address: "%s"}
log: {level: info, access_log: "off"}
%slisteners:
  - name: main
    address: "%s"
    filters:
      - name: traceid
%s
    routes:
      - match: {prefix: /}
        direct_response: {status: 200, body: "ok"}
`, freePort(t), plugins, freePort(t), filters)
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path, text
	}
	// lineOf is the 1-based line of the first line of text containing s.
	lineOf := func(text, s string) int {
		for i, l := range strings.Split(text, "\n") {
			if strings.Contains(l, s) {
				return i + 1
			}
		}
		t.Fatalf("%q not in the config", s)
		return 0
	}
	// expectError runs moe (args before -c FILE) and wants exit code != 0
	// (or == want when want > 0) and stderr matching every regexp.
	expectError := func(t *testing.T, want int, path string, args []string, res ...*regexp.Regexp) {
		t.Helper()
		code, stdout, stderr := runCmd(t, 30*time.Second, bin, append(args, "-c", path)...)
		if code == 0 || (want > 0 && code != want) {
			t.Fatalf("moe %s -c %s: exit %d, want %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), path, code,
				map[bool]string{true: strconv.Itoa(want), false: "non-zero"}[want > 0], stdout, stderr)
		}
		for _, re := range res {
			if !re.MatchString(stderr) {
				t.Errorf("stderr does not match %s\nstderr:\n%s", re, stderr)
			}
		}
	}
	q := regexp.QuoteMeta

	t.Run("missing_so_startup", func(t *testing.T) {
		missing := filepath.Join(dir, "does-not-exist.so")
		path, _ := write("missing", goYAMLPlugins(missing), "")
		expectError(t, 0, path, nil, regexp.MustCompile(q(missing)))
	})
	t.Run("built_without_script_startup", func(t *testing.T) {
		path, _ := write("notrim", goYAMLPlugins(p.NoTrimpath), "      - name: hello")
		expectError(t, 0, path, nil, regexp.MustCompile(q(p.NoTrimpath)), regexp.MustCompile(`scripts/build-plugin\.sh`))
	})
	t.Run("same_module_path_twice", func(t *testing.T) {
		// Another file, the same plugin: Go knows plugins by module path.
		twin := filepath.Join(dir, "hello-twin.so")
		b, err := os.ReadFile(p.Hello)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(twin, b, 0o644); err != nil {
			t.Fatal(err)
		}
		path, _ := write("twin", goYAMLPlugins(p.Hello, twin), "")
		expectError(t, 0, path, nil, regexp.MustCompile(q(twin)), regexp.MustCompile(`same module path`))
	})
	t.Run("init_panics", func(t *testing.T) {
		path, _ := write("panicinit", goYAMLPlugins(p.TestFilters), "")
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-c", path)
		cmd.Env = append(os.Environ(), "MOE_TEST_PLUGIN_PANIC=1")
		out, err := cmd.CombinedOutput()
		if err == nil || ctx.Err() != nil {
			t.Fatalf("moe with a plugin whose init panics: %v (ctx %v)\n%s", err, ctx.Err(), out)
		}
		if !strings.Contains(string(out), "Go plugin "+p.TestFilters+": panicked while loading") {
			t.Fatalf("the error does not name the plugin file:\n%s", out)
		}
	})
	unregistered := "      - name: nosuch_filter\n        config: {a: 1}"
	badConfig := "      - name: ratelimit\n        config: {rate: -5}"
	for _, tc := range []struct {
		name, filters, msg string
	}{
		{"unregistered_filter", unregistered, `filter "nosuch_filter" is not registered`},
		{"bad_filter_config", badConfig, `filter "ratelimit": rate (tokens per second) must be > 0`},
	} {
		path, text := write(tc.name, "", tc.filters)
		first := strings.TrimSpace(strings.SplitN(tc.filters, "\n", 2)[0])
		nameLine, cfgLine := lineOf(text, first), lineOf(text, "config: {")
		// FILE:LINE:COL: listeners[0].filters[1]...: message, LINE the
		// filter's item or its config.
		lineRE := regexp.MustCompile(fmt.Sprintf(`%s:(%d|%d):\d+: listeners\[0\]\.filters\[1\][^:]*: .*%s`,
			q(path), nameLine, cfgLine, q(tc.msg)))
		t.Run(tc.name+"_validate", func(t *testing.T) {
			expectError(t, 1, path, []string{"--validate"}, lineRE)
		})
		t.Run(tc.name+"_startup", func(t *testing.T) {
			expectError(t, 0, path, nil, lineRE)
		})
	}
}

// TestGoTenThousandAsyncRequestsWithGC: 10,000 requests, 64 at a time,
// through a filter that goes Pending and resumes from a goroutine; every
// 250th request makes that goroutine run runtime.GC(). All succeed with the
// filter's change; afterwards the goroutines return near the baseline and
// moe's VmRSS stays within 64 MiB of it. Heavy: not parallel.
func TestGoTenThousandAsyncRequestsWithGC(t *testing.T) {
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	m := startMoe(t, pluginYAML(2, []string{p.TestFilters}, [3]string{"main", "listen", "      - name: test_async"}), "up", up.Addr)
	const total, conc, gcEvery = 10000, 64, 250

	tr := &http.Transport{Proxy: nil, MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true,
		DialContext: (&net.Dialer{Timeout: ioTimeout}).DialContext}
	defer tr.CloseIdleConnections()
	client := &http.Client{Timeout: 20 * time.Second, Transport: tr}
	do := func(i int, gc bool) error {
		req, _ := http.NewRequest("GET", m.URL(fmt.Sprintf("/r/%d", i)), nil)
		if gc {
			req.Header.Set("X-Gc", "1")
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		if _, err := buf.ReadFrom(resp.Body); err != nil {
			return fmt.Errorf("read body: %v", err)
		}
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d: %s", resp.StatusCode, truncate(buf.Bytes(), 200))
		}
		if !bytes.Contains(buf.Bytes(), []byte(`"X-Async":["resumed"]`)) {
			return fmt.Errorf("upstream did not see x-async: resumed: %s", truncate(buf.Bytes(), 300))
		}
		return nil
	}
	for i := 0; i < conc; i++ { // warm-up: connections, pools, goroutine stacks
		if err := do(-1, false); err != nil {
			t.Fatalf("warm-up: %v", err)
		}
	}
	baseline := stableGoStat(t, m, "goroutines")
	gc0 := goStat(t, m, "num_gc")
	panics0 := goStat(t, m, "panics")
	rss0, _ := m.RSS()

	var next, failed atomic.Int64
	var firstErr sync.Once
	var errMsg string
	deadline := time.Now().Add(60 * time.Second)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= total || time.Now().After(deadline) {
					return
				}
				if err := do(i, i%gcEvery == 0); err != nil {
					failed.Add(1)
					firstErr.Do(func() { errMsg = fmt.Sprintf("request %d: %v", i, err) })
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	done := min(int(next.Load()), total)
	t.Logf("%d requests in %v (%d failed)", done, elapsed.Round(time.Millisecond), failed.Load())
	if done < total {
		t.Fatalf("only %d of %d requests done within 60s", done, total)
	}
	if failed.Load() > 0 {
		t.Fatalf("%d of %d requests failed; first: %s", failed.Load(), total, errMsg)
	}
	if gcs := goStat(t, m, "num_gc") - gc0; gcs < total/gcEvery {
		t.Errorf("/go num_gc went up by %v, want >= %d (one runtime.GC per marked request)", gcs, total/gcEvery)
	}
	tr.CloseIdleConnections()
	if g, ok := waitGoroutinesNear(t, m, baseline, 10, 10*time.Second); !ok {
		t.Errorf("%v goroutines 10s after the run, baseline %v (+10 allowed): leak", g, baseline)
	}
	rss, hwm := m.RSS()
	t.Logf("VmRSS %d MiB before, %d MiB after (VmHWM %d MiB)", rss0>>20, rss>>20, hwm>>20)
	if rss > rss0+64<<20 {
		t.Errorf("VmRSS grew from %d MiB to %d MiB (> 64 MiB)", rss0>>20, rss>>20)
	}
	if v := goStat(t, m, "panics"); v != panics0 {
		t.Errorf("/go panics went from %v to %v", panics0, v)
	}
	if !waitFor(5*time.Second, func() bool { return goStat(t, m, "streams") == 0 }) {
		t.Errorf("/go streams is %v with no request in flight: Go stream states leaked", goStat(t, m, "streams"))
	}
	if n := up.Count(); n != total+conc {
		t.Errorf("upstream received %d requests, want %d", n, total+conc)
	}
}

// TestGoResizedBodyAfterHeadFails: a filter that lets the request head go
// (Continue from the headers hook) and then resizes a body that has a
// Content-Length fails the stream with 500 (flag FB): forwarding it would
// make the upstream read the extra bytes as the start of another request.
func TestGoResizedBodyAfterHeadFails(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	filters := "      - name: test_upper\n        config: {suffix: \"-and-more\", late: true}"
	m := startMoe(t, pluginYAML(1, []string{p.TestFilters}, [3]string{"main", "listen", filters}), "up", up.Addr)
	body := strings.Repeat("abc", 1000)
	resp, err := http.Post(m.URL("/resize"), "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(got), "request body size") {
		t.Fatalf("status %d %q, want 500 naming the body size change", resp.StatusCode, got)
	}
	for _, r := range up.Requests() {
		if r.BodyLen != int64(len(body)) {
			t.Fatalf("upstream got a %d-byte body for Content-Length %d", r.BodyLen, len(body))
		}
	}
	// The same worker keeps serving.
	if r2, err := http.Get(m.URL("/after")); err != nil || r2.StatusCode != 200 {
		t.Fatalf("after: %v %v", r2, err)
	}
}

// TestGoSetPathChoosesBodyLimit: a filter moves the request (SetPath) to
// another route while the next one buffers it: the body limit is the final
// route's, both ways, and a body exactly at the limit passes. (0be0cd0 set
// the limit at the first match: /small to /big got /small's 413.)
func TestGoSetPathChoosesBodyLimit(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	y := pluginYAML(1, []string{p.TestFilters}, [3]string{"main", "listen", "      - name: test_setpath\n      - name: test_upper"})
	y = strings.Replace(y, "    routes:\n", "    routes:\n      - match: {prefix: /small}\n        max_request_body: 1KiB\n        cluster: up\n"+
		"      - match: {prefix: /big}\n        max_request_body: 64KiB\n        cluster: up\n", 1)
	m := startMoe(t, y, "up", up.Addr)
	for _, tc := range []struct {
		name, path, set string
		size, want      int
	}{
		{"small_to_big", "/small", "/big", 4096, 200},
		{"big_to_small", "/big", "/small", 4096, 413},
		{"big_exact_limit", "/big", "", 64 << 10, 200},
		{"big_over_limit", "/big", "", 64<<10 + 1, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, m.Addr("listen"))
			hdr := ""
			if tc.set != "" {
				hdr = "X-Set-Path: " + tc.set + "\r\n"
			}
			go fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: h\r\n%sContent-Length: %d\r\n\r\n%s", tc.path, hdr, tc.size, strings.Repeat("a", tc.size))
			if resp := readRawResponse(t, bufio.NewReader(c), "POST"); resp.Status != tc.want {
				t.Errorf("%s -> %q: status %d, want %d: %.80s", tc.path, tc.set, resp.Status, tc.want, resp.Body)
			}
		})
	}
}
