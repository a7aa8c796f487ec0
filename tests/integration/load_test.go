package integration

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestH1ThousandConcurrentKeepAliveClients: 1,000 clients connect at once
// and each sends a few requests on its keep-alive connection; every request
// succeeds.
func TestH1ThousandConcurrentKeepAliveClients(t *testing.T) {
	// Each client holds one fd here, moe holds two (client + upstream) and
	// the in-process upstream one more.
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Fatal(err)
		}
	}
	if rl.Cur < 4096 {
		t.Fatalf("RLIMIT_NOFILE is %d; this test needs at least 4096", rl.Cur)
	}
	const clients, perClient = 1000, 3
	up := startEcho(t, "up")
	m := startMoe(t, simpleYAML(2, up.Addr))
	addr := m.Addr("listen")

	var wg sync.WaitGroup
	var ok atomic.Int64
	errs := make(chan error, clients)
	start := make(chan struct{})
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			<-start
			c, err := net.DialTimeout("tcp", addr, 20*time.Second)
			if err != nil {
				errs <- fmt.Errorf("client %d: dial: %v", i, err)
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(60 * time.Second))
			br := bufio.NewReader(c)
			for j := 0; j < perClient; j++ {
				path := fmt.Sprintf("/c/%d/%d", i, j)
				if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: load\r\n\r\n", path); err != nil {
					errs <- fmt.Errorf("client %d request %d: write: %v", i, j, err)
					return
				}
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					errs <- fmt.Errorf("client %d request %d: %v", i, j, err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 {
					errs <- fmt.Errorf("client %d request %d: status %d err %v", i, j, resp.StatusCode, err)
					return
				}
				var e echoReply
				if err := json.Unmarshal(body, &e); err != nil || e.Target != path {
					errs <- fmt.Errorf("client %d request %d: got the response for %q", i, j, e.Target)
					return
				}
				ok.Add(1)
			}
		}(i)
	}
	close(start)
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n < 10 {
			t.Error(err)
		}
		n++
	}
	if n > 0 || ok.Load() != clients*perClient {
		t.Fatalf("%d of %d clients failed; %d of %d requests succeeded", n, clients, ok.Load(), clients*perClient)
	}
}

// TestDrainOnSIGTERM: with ~50 slow requests in flight, SIGTERM makes moe
// close its listener (new connections refused) while every in-flight request
// still completes with 200; then moe exits 0.
func TestDrainOnSIGTERM(t *testing.T) {
	const inflight = 50
	up := startUpstream(t, "slow", slowHandler(2*time.Second))
	m := startMoe(t, simpleYAML(2, up.Addr))
	addr := m.Addr("listen")

	var wg sync.WaitGroup
	codes := make([]int, inflight)
	errs := make([]error, inflight)
	var finished atomic.Int64
	for i := 0; i < inflight; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			defer finished.Add(1)
			c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
			resp, err := c.Get(fmt.Sprintf("http://%s/drain/%d", addr, i))
			if err != nil {
				errs[i] = err
				return
			}
			_, errs[i] = io.ReadAll(resp.Body)
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}(i)
	}
	if !waitFor(10*time.Second, func() bool { return up.Count() == inflight }) {
		t.Fatalf("only %d of %d requests reached the upstream", up.Count(), inflight)
	}
	m.Signal(syscall.SIGTERM)

	// The listener closes: a new connection is refused while moe is still
	// draining (alive, with requests in flight).
	refused := false
	for !refused && !m.Exited() && finished.Load() < inflight {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		c.Close()
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Errorf("new connections were still accepted during the whole drain (%d/%d requests done, exited=%v)",
			finished.Load(), inflight, m.Exited())
	}
	wg.Wait()
	for i := range codes {
		if errs[i] != nil || codes[i] != 200 {
			t.Errorf("in-flight request %d: status %d err %v; want 200", i, codes[i], errs[i])
		}
	}
	m.WaitExit(20 * time.Second)
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("listener still accepts after moe exited")
	}
}

// TestDrainWithNothingInFlight: on SIGTERM an idle keep-alive connection is
// closed by moe, which then exits 0 without waiting for any timer (every
// timeout and drain_timeout is 60s here), whatever kind of response the
// connection carried last.
func TestDrainWithNothingInFlight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, path string
		status     int
	}{
		{"after_proxied_response", "/proxied", 200},
		{"after_direct_response", "/direct", 200},
		{"after_no_route_404", "/nothing", 404},
		{"after_upstream_refused_502", "/refused", 502},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := startEcho(t, "up")
			m := startMoe(t, `workers: 1
drain_timeout: 60s
admin: {address: "{{admin}}"}
log: {level: info, access_log: "{{tmp}}/access.log", access_log_format: json}
listeners:
  - name: main
    address: "{{listen}}"
    timeouts: {request_headers: 60s, idle: 60s}
    routes:
      - match: {path: /proxied}
        cluster: up
        timeout: 60s
      - match: {path: /refused}
        cluster: refused
        timeout: 60s
      - match: {path: /direct}
        direct_response: {status: 200, body: "direct"}
clusters:
  - name: up
    endpoints: ["{{up}}"]
  - name: refused
    endpoints: ["{{refused}}"]
`, "up", up.Addr, "refused", closedPort(t))
			c := dial(t, m.Addr("listen"))
			br := bufio.NewReader(c)
			fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", tc.path)
			resp := readRawResponse(t, br, "GET")
			if resp.Status != tc.status {
				t.Fatalf("GET %s: %d, want %d", tc.path, resp.Status, tc.status)
			}
			m.Signal(syscall.SIGTERM)
			expectClosed(t, c, br, 10*time.Second)
			select {
			case <-m.done:
				m.WaitExit(time.Second)
			case <-time.After(10 * time.Second):
				t.Errorf("moe still runs 10s after SIGTERM with nothing in flight (timeouts 60s): "+
					"something from the last %s response was not released", tc.path)
				m.Kill()
			}
		})
	}
}
