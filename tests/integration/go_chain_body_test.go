package integration

import (
	"bufio"
	"testing"
)

// TestGoBodyArrivesWhileEarlierFilterPending: filter A (test_async) is
// Pending on the request headers; the body arrives during its wait (it is
// in the same write as the head, so moe reads it before A resumes). Filter
// B after A wants the body: it must see it, once, before any of it goes
// upstream, whether B buffers from its headers hook or from its body hook.
// The body went upstream uninspected (issue 13, defect 1).
func TestGoBodyArrivesWhileEarlierFilterPending(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	m := startMoe(t, pluginYAML(1, []string{p.TestFilters},
		[3]string{"headers_buffer", "listen", "      - name: test_async\n      - name: test_upper\n        config: {suffix: \"!\"}"},
		// (No suffix here: a body hook that resizes a sized body whose head
		// went out fails the stream, and whether the head is out depends on
		// the timing this test does not control.)
		[3]string{"body_buffer", "listen2", "      - name: test_async\n      - name: test_upper\n        config: {late: true}"},
	), "up", up.Addr)
	for _, l := range []string{"listen", "listen2"} {
		for _, framing := range []string{"sized", "chunked"} {
			t.Run(l+"/"+framing, func(t *testing.T) {
				before := len(up.Requests())
				c := dial(t, m.Addr(l))
				br := bufio.NewReader(c)
				req := "POST /upper HTTP/1.1\r\nHost: h\r\n"
				if framing == "sized" {
					req += "Content-Length: 11\r\n\r\nhello world"
				} else {
					req += "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
				}
				if _, err := c.Write([]byte(req)); err != nil {
					t.Fatal(err)
				}
				if r := readRawResponse(t, br, "POST"); r.Status != 200 {
					t.Fatalf("status %d: %s", r.Status, r.Body)
				}
				reqs := up.Requests()[before:]
				if len(reqs) != 1 {
					t.Fatalf("upstream got %d requests", len(reqs))
				}
				want := "HELLO WORLD!"
				if l == "listen2" {
					want = "HELLO WORLD"
				}
				if got := string(reqs[0].Body); got != want {
					t.Fatalf("upstream body %q, want %q (the later filter saw the body)", got, want)
				}
				if async := reqs[0].Header.Get("X-Async"); async != "resumed" {
					t.Fatalf("x-async %q: the first filter did not run", async)
				}
			})
		}
	}
}
