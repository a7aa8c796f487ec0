package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// withResponseHook is traceid plus a filter with a response-headers hook:
// traceid alone puts its response id through AddResponseHeader and has no
// response hook, and these tests are about response headers held for Go.
const withResponseHook = `      - name: traceid
      - name: headers
        config: {response_set: {x-resp-hook: "1"}}`

// TestGoBatchedClientsVanish: clients that reset or close while their
// header events wait in the worker's batch, or while their response
// headers do (the upstream answers after a pause), do not take moe or the
// other clients down: their streams are skipped or ended, the rest are
// answered, a burst afterwards is served normally, and Go holds no stream
// state once every stream has ended (GET /go "streams").
func TestGoBatchedClientsVanish(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		if r.Target == "/slow" {
			time.Sleep(20 * time.Millisecond) // the client is gone by now
		}
		err := writeResponse(c, r, 200, []string{"Content-Type", "application/json"}, echoBody(c.u, r))
		return err == nil && !r.wantsClose()
	})
	m := startMoe(t, goFilterYAML(1, withResponseHook), "up", up.Addr)
	addr := m.Addr("listen")

	const rounds, vanishing, staying = 5, 60, 20
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		for i := 0; i < vanishing; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", addr, 5*time.Second)
				if err != nil {
					return // the test is about moe's side; a refused dial shows below
				}
				path := "/fast"
				if i%2 == 1 {
					path = "/slow"
				}
				fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: v\r\n\r\n", path)
				if i%3 == 0 {
					c.(*net.TCPConn).SetLinger(0) // RST right behind the request
				} else if path == "/slow" {
					time.Sleep(5 * time.Millisecond) // gone while the upstream thinks
				}
				c.Close()
			}(i)
		}
		inParallel(t, staying, func(i int) error {
			req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/stay/%d/%d", addr, round, i), nil)
			resp, body, err := fetch(newClient(), req)
			if err != nil || resp.StatusCode != 200 {
				return fmt.Errorf("round %d client %d: %v (response %v, %q)", round, i, err, resp, body)
			}
			if !hex32RE.MatchString(resp.Header.Get("X-Request-Id")) {
				return fmt.Errorf("round %d client %d: X-Request-Id %q", round, i, resp.Header.Get("X-Request-Id"))
			}
			return nil
		})
		wg.Wait()
	}
	if m.Exited() {
		t.Fatal("moe exited")
	}
	// Afterwards: a burst through the same chain is whole.
	inParallel(t, 50, func(i int) error {
		req, _ := http.NewRequest("GET", fmt.Sprintf("http://%s/after/%d", addr, i), nil)
		resp, _, err := fetch(newClient(), req)
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Request-Id") == "" {
			return fmt.Errorf("after: client %d: %v (response %v)", i, err, resp)
		}
		return nil
	})
	// Every stream has ended: Go holds no stream state any more.
	if !waitFor(5*time.Second, func() bool { return goStat(t, m, "streams") == 0 }) {
		t.Fatalf("GET /go: %v Go stream states still in use after every stream ended", goStat(t, m, "streams"))
	}
}

// TestGoBatchedTunnels: WebSocket and CONNECT through a header-only Go chain.
// The upgrade request's headers wait in the worker's batch while the
// client's first tunnel bytes are already behind them in the same write;
// the upstream gets the request with traceid's id, then every tunnel byte,
// in order, both ways.
func TestGoBatchedTunnels(t *testing.T) {
	t.Parallel()
	requireGo(t)
	ws := startUpstream(t, "ws", tunnelHandler(101, []string{
		"Upgrade", "websocket", "Connection", "Upgrade",
		"Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="}, "hello-from-upstream\n"))
	connect := startUpstream(t, "connect", tunnelHandler(200, nil, "tunnel-open\n"))
	m := startMoe(t, yamlMain+`    filters:
      - name: traceid
    routes:
      - match: {method: CONNECT}
        cluster: connect
      - match: {prefix: /}
        cluster: ws
clusters:
  - name: ws
    endpoints: ["{{ws}}"]
  - name: connect
    endpoints: ["{{connect}}"]
`, "ws", ws.Addr, "connect", connect.Addr)
	for _, tc := range []struct {
		name, request, greeting string
		status                  int
		up                      *upstream
	}{
		{"websocket", "GET /ws HTTP/1.1\r\nHost: ws.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", "hello-from-upstream\n", 101, ws},
		{"connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", "tunnel-open\n", 200, connect},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, m.Addr("listen"))
			br := bufio.NewReader(c)
			early := "early-bytes-behind-the-request\n"
			if _, err := io.WriteString(c, tc.request+early); err != nil {
				t.Fatal(err)
			}
			resp := readRawResponse(t, br, "HEAD")
			if resp.Status != tc.status {
				t.Fatalf("status %d, want %d", resp.Status, tc.status)
			}
			reqs := tc.up.Requests()
			if len(reqs) != 1 || !hex32RE.MatchString(reqs[0].Header.Get("X-Request-Id")) {
				t.Fatalf("upstream requests %+v: want one, with traceid's X-Request-Id", reqs)
			}
			greet, err := br.ReadString('\n')
			if err != nil || greet != tc.greeting {
				t.Fatalf("upstream->client bytes: %q, %v", greet, err)
			}
			// The early bytes went through first: the echo returns them.
			back := make([]byte, len(early))
			if _, err := io.ReadFull(br, back); err != nil || string(back) != early {
				t.Fatalf("early tunnel bytes echoed as %q, %v", back, err)
			}
			tunnelEcho(t, c, br, 1<<20)
		})
	}
}

// TestGoBatchedBodilessResponses: responses that end at their headers (204,
// 304, HEAD, Content-Length: 0) wait for the batch like any other; their
// upstream connection goes back to the pool at once and serves other
// streams meanwhile. Ending the held stream later must not touch that
// connection (it belongs to someone else by then): every request of a
// concurrent mix gets its own, complete answer.
func TestGoBatchedBodilessResponses(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		var err error
		switch {
		case strings.HasPrefix(r.Target, "/nocontent"):
			err = writeResponse(c, r, 204, nil, nil)
		case strings.HasPrefix(r.Target, "/empty"):
			err = writeResponse(c, r, 200, nil, nil)
		default:
			err = writeResponse(c, r, 200, []string{"Content-Type", "application/json"}, echoBody(c.u, r))
		}
		return err == nil && !r.wantsClose()
	})
	m := startMoe(t, goFilterYAML(1, withResponseHook), "up", up.Addr)
	inParallel(t, 32, func(g int) error {
		c := newClient()
		for i := 0; i < 30; i++ {
			path, method, want := fmt.Sprintf("/echo/%d/%d", g, i), "GET", 200
			switch i % 4 {
			case 1:
				path, want = fmt.Sprintf("/nocontent/%d/%d", g, i), 204
			case 2:
				path, want = fmt.Sprintf("/empty/%d/%d", g, i), 200
			case 3:
				method = "HEAD"
			}
			req, _ := http.NewRequest(method, m.URL(path), nil)
			resp, body, err := fetch(c, req)
			if err != nil || resp.StatusCode != want {
				return fmt.Errorf("%s %s: %v (response %v)", method, path, err, resp)
			}
			if resp.Header.Get("X-Request-Id") == "" || resp.Header.Get("X-Resp-Hook") != "1" {
				return fmt.Errorf("%s %s: X-Request-Id %q, X-Resp-Hook %q", method, path,
					resp.Header.Get("X-Request-Id"), resp.Header.Get("X-Resp-Hook"))
			}
			if method == "GET" && want == 200 && i%4 == 0 && !strings.Contains(string(body), path) {
				return fmt.Errorf("%s %s: body %q is not this request's echo", method, path, body)
			}
		}
		return nil
	})
}
