package integration

import (
	"bufio"
	"strings"
	"testing"
	"time"
)

// TestH1HostileRequests sends malformed and hostile requests, each on a fresh
// connection, and asserts moe's status, that moe closes the connection, and
// that the recording upstream received nothing (not one byte).
func TestH1HostileRequests(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	alive := startEcho(t, "alive")
	// /__alive probes go to their own cluster, so cluster "up" never has a
	// pooled connection: each hostile request meets a fresh upstream connect.
	yaml := yamlMain + `    routes:
      - match: {path: /__alive}
        cluster: alive
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["{{up}}"]
  - name: alive
    endpoints: ["{{alive}}"]
`
	m := startMoe(t, yaml, "up", up.Addr, "alive", alive.Addr)
	addr := m.Addr("listen")

	const h = "Host: h\r\n"
	many := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			b.WriteString("X-Many-" + strings.Repeat("a", i%7) + ": v\r\n")
		}
		return b.String()
	}
	cases := []struct {
		name   string
		req    string
		status int
	}{
		// Framing: request smuggling vectors.
		{"content_length_and_transfer_encoding", "POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"transfer_encoding_and_content_length", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
		{"two_differing_content_lengths", "POST / HTTP/1.1\r\n" + h + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"content_length_list_differing", "POST / HTTP/1.1\r\n" + h + "Content-Length: 5, 6\r\n\r\nhello!", 400},
		{"content_length_abc", "POST / HTTP/1.1\r\n" + h + "Content-Length: abc\r\n\r\n", 400},
		{"content_length_negative", "POST / HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n", 400},
		{"content_length_with_space", "POST / HTTP/1.1\r\n" + h + "Content-Length: 1 2\r\n\r\n", 400},
		{"content_length_plus_sign", "POST / HTTP/1.1\r\n" + h + "Content-Length: +5\r\n\r\nhello", 400},
		{"content_length_overflow", "POST / HTTP/1.1\r\n" + h + "Content-Length: 99999999999999999999999\r\n\r\n", 400},
		{"chunk_size_not_hex", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk_size_overflow", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk_data_missing_crlf", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400},
		{"chunk_size_bare_lf", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400},
		{"transfer_encoding_gzip", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\nhello", 400},
		{"transfer_encoding_chunked_false", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked-false\r\n\r\n0\r\n\r\n", 400},
		{"transfer_encoding_chunked_identity", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n", 400},
		{"transfer_encoding_identity", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: identity\r\n\r\nhello", 400},
		{"transfer_encoding_chunked_not_last", "POST / HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n", 400},
		// Header syntax.
		{"header_value_bare_cr", "GET / HTTP/1.1\r\n" + h + "X-A: a\rb\r\n\r\n", 400},
		{"header_value_bare_lf", "GET / HTTP/1.1\r\n" + h + "X-A: a\nX-B: b\r\n\r\n", 400},
		{"obs_fold_space", "GET / HTTP/1.1\r\n" + h + "X-A: a\r\n b\r\n\r\n", 400},
		{"obs_fold_tab", "GET / HTTP/1.1\r\n" + h + "X-A: a\r\n\tb\r\n\r\n", 400},
		{"header_name_space_before_colon", "GET / HTTP/1.1\r\n" + h + "X-A : a\r\n\r\n", 400},
		{"header_name_paren", "GET / HTTP/1.1\r\n" + h + "X(A): a\r\n\r\n", 400},
		{"header_name_at", "GET / HTTP/1.1\r\n" + h + "X@A: a\r\n\r\n", 400},
		{"header_name_empty", "GET / HTTP/1.1\r\n" + h + ": a\r\n\r\n", 400},
		{"header_value_nul", "GET / HTTP/1.1\r\n" + h + "X-A: a\x00b\r\n\r\n", 400},
		{"header_value_control_char", "GET / HTTP/1.1\r\n" + h + "X-A: a\x01b\r\n\r\n", 400},
		{"header_value_del", "GET / HTTP/1.1\r\n" + h + "X-A: a\x7fb\r\n\r\n", 400},
		// Host.
		{"missing_host_http11", "GET / HTTP/1.1\r\nX-A: a\r\n\r\n", 400},
		{"multiple_host", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		// Request line.
		{"invalid_method_token", "G(T / HTTP/1.1\r\n" + h + "\r\n", 400},
		{"garbage_request_line", "hello world\r\n\r\n", 400},
		{"tls_client_hello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + strings.Repeat("\x00", 32) + "\r\n\r\n", 400},
		{"method_only", "GET\r\n\r\n", 400},
		{"request_target_with_space", "GET /a b HTTP/1.1\r\n" + h + "\r\n", 400},
		{"request_target_control_char", "GET /a\x01b HTTP/1.1\r\n" + h + "\r\n", 400},
		{"absolute_form_single_slash", "GET http:/foo HTTP/1.1\r\n" + h + "\r\n", 400},
		{"absolute_form_bad_host_char", "GET http://ex<ample.com/ HTTP/1.1\r\n" + h + "\r\n", 400},
		{"absolute_form_no_scheme", "GET ://example.com/ HTTP/1.1\r\n" + h + "\r\n", 400},
		{"lowercase_http_version", "GET / http/1.1\r\n" + h + "\r\n", 400},
		// Versions.
		{"version_http_2_0_text", "GET / HTTP/2.0\r\n" + h + "\r\n", 505},
		{"version_http_1_2", "GET / HTTP/1.2\r\n" + h + "\r\n", 505},
		{"version_http_3_0", "GET / HTTP/3.0\r\n" + h + "\r\n", 505},
		// Sizes (defaults: 60 KiB of request line + headers, 100 headers).
		{"oversize_header_block", "GET / HTTP/1.1\r\n" + h + "X-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431},
		{"too_many_headers", "GET / HTTP/1.1\r\n" + h + many(150) + "\r\n", 431},
	}
	for _, tc := range cases {
		if m.Exited() {
			// The previous case killed moe (and failed); run the rest on a
			// new one.
			t.Logf("moe exited (%v); restarting it for case %s", m.waitErr, tc.name)
			m = startMoe(t, yaml, "up", up.Addr, "alive", alive.Addr)
			addr = m.Addr("listen")
		}
		t.Run(tc.name, func(t *testing.T) {
			beforeBytes, beforeReqs := up.BytesIn(), up.Count()
			c := dial(t, addr)
			if _, err := c.Write([]byte(tc.req)); err != nil && !isClosedErr(err) {
				t.Fatalf("write: %v", err)
			}
			br := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(4 * time.Second))
			code, line, err := readStatusLine(br)
			if err != nil {
				t.Errorf("no status line within 4s (want %d): %v (read %q)", tc.status, err, line)
			} else {
				if code != tc.status {
					t.Errorf("status %d (%q), want %d", code, strings.TrimSpace(line), tc.status)
				}
				expectClosed(t, c, br, 3*time.Second)
			}
			// moe is done with the request; give the upstream a moment in
			// case something was forwarded anyway.
			time.Sleep(30 * time.Millisecond)
			if d := up.BytesIn() - beforeBytes; d != 0 || up.Count() != beforeReqs {
				t.Errorf("upstream received %d bytes / %d requests; want nothing", d, up.Count()-beforeReqs)
			}
			// moe survived this request: it still serves a valid one.
			if m.Exited() {
				t.Fatalf("moe died after this request: %v", m.waitErr)
			}
			probe := dial(t, addr)
			probe.Write([]byte("GET /__alive HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
			if code, line, err := readStatusLine(bufio.NewReader(probe)); err != nil || code != 200 {
				t.Fatalf("after this request moe no longer serves a valid one: %v %q (moe exited: %v %v)",
					err, line, m.Exited(), m.waitErr)
			}
		})
	}
	// Control: a well-formed request on the same listener does reach the
	// upstream, so the "received nothing" checks above can fail.
	t.Run("control_valid_request_reaches_upstream", func(t *testing.T) {
		before := up.Count()
		c := dial(t, addr)
		c.Write([]byte("GET /control HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
		br := bufio.NewReader(c)
		code, line, err := readStatusLine(br)
		if err != nil || code != 200 {
			t.Fatalf("valid request: %d %q %v", code, line, err)
		}
		expectClosed(t, c, br, 5*time.Second)
		if !waitFor(2*time.Second, func() bool { return up.Count() == before+1 }) {
			t.Fatalf("upstream count %d, want %d", up.Count(), before+1)
		}
	})
}
