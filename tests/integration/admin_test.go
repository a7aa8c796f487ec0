package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

var promLineRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$`)
var promLabelRE = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// parseProm parses Prometheus text format; it fails the test on a line that
// is neither a comment nor a valid sample.
func parseProm(t *testing.T, text string) []promSample {
	t.Helper()
	var out []promSample
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		mm := promLineRE.FindStringSubmatch(line)
		if mm == nil {
			t.Fatalf("/stats: not Prometheus text format: %q", line)
		}
		v, err := strconv.ParseFloat(mm[4], 64)
		if err != nil {
			t.Fatalf("/stats: bad sample value in %q", line)
		}
		s := promSample{name: mm[1], labels: map[string]string{}, value: v}
		for _, l := range promLabelRE.FindAllStringSubmatch(mm[3], -1) {
			s.labels[l[1]] = l[2]
		}
		out = append(out, s)
	}
	return out
}

// sum of samples named name whose labels include want.
func promSum(samples []promSample, name string, want map[string]string) (float64, bool) {
	total, found := 0.0, false
	for _, s := range samples {
		if s.name != name {
			continue
		}
		match := true
		for k, v := range want {
			if s.labels[k] != v {
				match = false
			}
		}
		if match {
			total += s.value
			found = true
		}
	}
	return total, found
}

const adminYAML = `workers: 2
admin: {address: "{{admin}}"}
log: {level: info, access_log: "{{tmp}}/access.log", access_log_format: json}
listeners:
  - name: alpha
    address: "{{listen}}"
    routes:
      - name: r-dead
        match: {prefix: /dead}
        cluster: dead
      - name: r-up
        match: {prefix: /}
        cluster: up
  - name: beta
    address: "{{listen2}}"
    routes:
      - name: r-direct
        match: {prefix: /}
        direct_response: {status: 200, body: "beta"}
clusters:
  - name: up
    endpoints: ["{{up}}"]
  - name: dead
    endpoints: ["{{dead}}"]
`

// TestAdminEndpoints: /ready, /stats (Prometheus text with the documented
// metrics and labels after traffic), /config_dump (JSON naming listeners).
func TestAdminEndpoints(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, adminYAML, "up", up.Addr, "dead", closedPort(t))

	t.Run("ready", func(t *testing.T) {
		if st, _ := m.adminGet(t, "/ready"); st != 200 {
			t.Fatalf("GET /ready: %d", st)
		}
	})

	// Traffic: 3 x 2xx through r-up, 1 x 502 through r-dead, and one
	// connection held open.
	for i := 0; i < 3; i++ {
		if st, _, _ := httpGet(t, m.URL("/traffic")); st != 200 {
			t.Fatalf("traffic: status %d", st)
		}
	}
	if st, _, _ := httpGet(t, m.URL("/dead")); st != 502 {
		t.Fatalf("refused endpoint: status %d, want 502", st)
	}
	held := dial(t, m.Addr("listen"))
	fmt.Fprintf(held, "GET /held HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp := readResponse(t, bufio.NewReader(held), "GET"); resp.Status != 200 {
		t.Fatalf("held connection: status %d", resp.Status)
	}

	t.Run("stats", func(t *testing.T) {
		var samples []promSample
		var body string
		// Stats may be aggregated from the workers periodically: poll.
		ok := waitFor(5*time.Second, func() bool {
			var st int
			st, body = m.adminGet(t, "/stats")
			if st != 200 {
				return false
			}
			samples = parseProm(t, body)
			v, _ := promSum(samples, "moe_http_requests_total",
				map[string]string{"listener": "alpha", "route": "r-up", "cluster": "up", "status_class": "2xx"})
			f, _ := promSum(samples, "moe_upstream_connect_failures_total", nil)
			return v >= 4 && f >= 1
		})
		if !ok {
			t.Logf("/stats:\n%s", body)
		}
		v, found := promSum(samples, "moe_http_requests_total",
			map[string]string{"listener": "alpha", "route": "r-up", "cluster": "up", "status_class": "2xx"})
		if !found || v < 4 {
			t.Errorf(`moe_http_requests_total{listener="alpha",route="r-up",cluster="up",status_class="2xx"} = %v (found %v), want >= 4`, v, found)
		}
		if !strings.Contains(body, "moe_http_requests_total{") {
			t.Errorf("no moe_http_requests_total{ in /stats")
		}
		if _, found := promSum(samples, "moe_downstream_connections_active", nil); !found {
			t.Errorf("no moe_downstream_connections_active in /stats")
		} else if a, _ := promSum(samples, "moe_downstream_connections_active", nil); a < 1 {
			t.Errorf("moe_downstream_connections_active = %v with a connection held open, want >= 1", a)
		}
		if f, found := promSum(samples, "moe_upstream_connect_failures_total", nil); !found || f < 1 {
			t.Errorf("moe_upstream_connect_failures_total = %v (found %v) after a refused endpoint, want >= 1", f, found)
		}
		inf := false
		for _, s := range samples {
			if s.name == "moe_http_request_duration_seconds_bucket" && s.labels["le"] == "+Inf" && s.value >= 1 {
				inf = true
			}
		}
		if !inf {
			t.Errorf(`no moe_http_request_duration_seconds_bucket{...,le="+Inf"} >= 1 in /stats`)
		}
	})

	t.Run("config_dump", func(t *testing.T) {
		st, body := m.adminGet(t, "/config_dump")
		if st != 200 {
			t.Fatalf("GET /config_dump: %d", st)
		}
		var v any
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			t.Fatalf("/config_dump is not JSON: %v\n%s", err, truncate([]byte(body), 500))
		}
		strs := map[string]bool{}
		var walk func(any)
		walk = func(x any) {
			switch x := x.(type) {
			case map[string]any:
				for _, e := range x {
					walk(e)
				}
			case []any:
				for _, e := range x {
					walk(e)
				}
			case string:
				strs[x] = true
			}
		}
		walk(v)
		for _, name := range []string{"alpha", "beta", "up", "dead"} {
			if !strs[name] {
				t.Errorf("/config_dump has no string value %q", name)
			}
		}
	})
}

// accessLogEntries reads the JSON access log (one object per line). Only
// complete lines count: the log is written off the worker thread while a
// test polls it, so the last line may still be half written.
func accessLogEntries(t *testing.T, path string) []map[string]any {
	t.Helper()
	text := readFileString(path)
	text = text[:strings.LastIndexByte(text, '\n')+1]
	var out []map[string]any
	for _, line := range strings.Split(text, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "<") {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("access log line is not JSON: %v: %q", err, line)
		}
		out = append(out, e)
	}
	return out
}

func findEntry(entries []map[string]any, path string) map[string]any {
	for _, e := range entries {
		if e["path"] == path {
			return e
		}
	}
	return nil
}

// waitEntry polls the (asynchronously written) access log for path.
func waitEntry(t *testing.T, file, path string) map[string]any {
	t.Helper()
	var e map[string]any
	if !waitFor(5*time.Second, func() bool {
		e = findEntry(accessLogEntries(t, file), path)
		return e != nil
	}) {
		t.Fatalf("no access log entry for %s in %s within 5s; log:\n%s", path, file, tailFile(file, 4096))
	}
	return e
}

func num(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

// TestAccessLogJSON: one JSON object per request with the documented keys.
func TestAccessLogJSON(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, adminYAML, "up", up.Addr, "dead", closedPort(t))
	if st, _, _ := httpGet(t, m.URL("/logged")); st != 200 {
		t.Fatalf("status %d", st)
	}
	file := m.Dir + "/access.log"
	e := waitEntry(t, file, "/logged")
	if e == nil {
		return
	}
	for _, k := range []string{"method", "path", "protocol", "status", "bytes_received", "bytes_sent",
		"duration_ms", "upstream_ms", "upstream_host", "flags", "listener", "route", "cluster"} {
		if _, ok := e[k]; !ok {
			t.Errorf("access log entry has no %q: %v", k, e)
		}
	}
	want := map[string]string{"method": "GET", "protocol": "HTTP/1.1", "listener": "alpha", "route": "r-up",
		"cluster": "up", "upstream_host": up.Addr}
	for k, v := range want {
		if fmt.Sprint(e[k]) != v {
			t.Errorf("access log %s = %v, want %q", k, e[k], v)
		}
	}
	if s, ok := num(e["status"]); !ok || s != 200 {
		t.Errorf("access log status = %v, want 200", e["status"])
	}
	if b, ok := num(e["bytes_sent"]); !ok || b <= 0 {
		t.Errorf("access log bytes_sent = %v, want > 0", e["bytes_sent"])
	}
	if d, ok := num(e["duration_ms"]); !ok || d < 0 {
		t.Errorf("access log duration_ms = %v, want a number >= 0", e["duration_ms"])
	}
	// A direct response is logged too, with its listener and route.
	if st, _, _ := httpGet(t, "http://"+m.Addr("listen2")+"/beta-path"); st != 200 {
		t.Fatalf("beta: status %d", st)
	}
	e2 := waitEntry(t, file, "/beta-path")
	if e2 != nil && (fmt.Sprint(e2["listener"]) != "beta" || fmt.Sprint(e2["route"]) != "r-direct") {
		t.Errorf("direct response entry: listener %v route %v, want beta r-direct", e2["listener"], e2["route"])
	}
}

// TestAccessLogText: the text format has one line per request with method,
// path and status.
func TestAccessLogText(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, strings.Replace(simpleYAML(1, up.Addr), "access_log_format: json", "access_log_format: text", 1))
	if st, _, _ := httpGet(t, m.URL("/text-logged")); st != 200 {
		t.Fatalf("status %d", st)
	}
	if st, _, _ := httpDo(t, newClient(), "POST", m.URL("/text-posted"), strings.NewReader("x")); st != 200 {
		t.Fatalf("status %d", st)
	}
	file := m.Dir + "/access.log"
	// A line: TIME "METHOD PATH PROTOCOL" STATUS BYTES_IN BYTES_OUT MS
	// UPSTREAM_MS UPSTREAM FLAGS LISTENER ROUTE REQUEST_ID UPSTREAM_PATH
	// "USER_AGENT" (docs/operations.md);
	// the time is one field, the request three.
	want := []string{`"GET /text-logged HTTP/1.1"`, `"POST /text-posted HTTP/1.1"`}
	ok := waitFor(5*time.Second, func() bool {
		text := readFileString(file)
		seen := map[string]int{}
		for _, l := range strings.Split(text[:strings.LastIndexByte(text, '\n')+1], "\n") {
			if f := strings.Fields(l); len(f) == 16 && f[4] == "200" && f[11] == "main" && f[12] == "to-up" && f[14] == f[2] &&
				f[15] == `"Go-http-client/1.1"` {
				seen[f[1]+" "+f[2]+" "+f[3]]++
			}
		}
		// One line per request: each request exactly once.
		return len(seen) == len(want) && seen[want[0]] == 1 && seen[want[1]] == 1
	})
	if !ok {
		t.Fatalf("text access log wants exactly one line with request, status 200, listener and route for each request:\n%s", tailFile(file, 4096))
	}
}

// TestAccessLogReopenOnSIGUSR1: rename the log, send SIGUSR1, and new
// requests are written to a new file at the original path.
func TestAccessLogReopenOnSIGUSR1(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(1, up.Addr))
	file := m.Dir + "/access.log"
	rotated := m.Dir + "/access.log.1"
	if st, _, _ := httpGet(t, m.URL("/before-rotate")); st != 200 {
		t.Fatalf("status %d", st)
	}
	waitEntry(t, file, "/before-rotate")
	if err := os.Rename(file, rotated); err != nil {
		t.Fatal(err)
	}
	m.Signal(syscall.SIGUSR1)
	// Reopening is asynchronous: keep sending until a request lands in the
	// new file.
	i := 0
	if !waitFor(5*time.Second, func() bool {
		i++
		httpGet(t, m.URL(fmt.Sprintf("/after-rotate/%d", i)))
		time.Sleep(50 * time.Millisecond)
		for _, e := range accessLogEntries(t, file) {
			if p, _ := e["path"].(string); strings.HasPrefix(p, "/after-rotate/") {
				return true
			}
		}
		return false
	}) {
		t.Fatalf("after SIGUSR1, no request was logged to a new %s (rotated file tail:\n%s)", file, tailFile(rotated, 2048))
	}
	if st, _, _ := httpGet(t, m.URL("/settled")); st != 200 {
		t.Fatalf("status %d", st)
	}
	waitEntry(t, file, "/settled")
	if findEntry(accessLogEntries(t, rotated), "/settled") != nil {
		t.Fatal("a request after the reopen was also written to the rotated file")
	}
	if findEntry(accessLogEntries(t, rotated), "/before-rotate") == nil {
		t.Fatal("the rotated file lost its entries")
	}
}
