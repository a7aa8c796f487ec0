package integration

import (
	"strings"
	"testing"
)

// h2SmugglingYAML: an h2c listener whose routes a smuggled or spoofed
// request would want to get past: the virtual host internal.example and
// the prefix /private answer 403 from moe; CONNECT, the virtual host
// public.example (any path: a route that does not look at the path) and
// everything else go to the recording upstream.
const h2SmugglingYAML = `workers: 1
admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
  - name: main
    address: "{{listen}}"
    http2: true
    routes:
      - match: {host: internal.example}
        direct_response: {status: 403, body: "denied\n"}
      - match: {method: CONNECT}
        cluster: up
      - match: {prefix: /private}
        direct_response: {status: 403, body: "denied\n"}
      - match: {host: public.example}
        cluster: up
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["{{up}}"]
`

// h2Req is the header block of a request as h2Fields pairs: the four
// pseudo-fields, then extra.
func h2Req(method, scheme, path, authority string, extra ...string) []string {
	return append([]string{":method", method, ":scheme", scheme, ":path", path, ":authority", authority}, extra...)
}

// TestH2SmugglingTable: request smuggling and header spoofing in the
// HTTP/2 to HTTP/1.1 translation. Each row goes through the real binary to a
// real HTTP/1.1 upstream as raw h2c frames and, where HTTP/1.1 can say the
// same thing, as a raw HTTP/1.1 request; the table asserts the client's
// answer and what the upstream received (nothing, for a refused request;
// for one with a body, also that the next request on the upstream's
// connection arrives whole). h2Status -1: nghttp2 resets the stream
// (RFC 9113 8.1.1: malformed).
func TestH2SmugglingTable(t *testing.T) {
	t.Parallel()
	up := startEcho(t, "up")
	m := startMoe(t, h2SmugglingYAML, "up", up.Addr)
	const smuggled = "GET /private/x HTTP/1.1\r\nHost: h\r\n\r\n"
	cases := []hostileInput{
		// 1. CR, LF or NUL in a field value, :path, :authority or :method
		// would write a field or a request of the client's upstream. HTTP/1.1
		// refuses the bare CR, LF and NUL; CRLF there is just the next
		// field, so those rows are h2 only.
		{name: "value_lf", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"X-A", "v\nX-Injected: 1"}, status: 400},
		{name: "value_cr", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"X-A", "v\rX-Injected: 1"}, status: 400},
		{name: "value_nul", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"X-A", "v\x00w"}, status: 400},
		{name: "value_crlf", h2Only: true, h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"x-a", "v\r\nX-Injected: 1"}},
		{name: "value_crlf_request", h2Only: true, h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"x-a", "v\r\n\r\n" + smuggled}},
		{name: "name_crlf", h2Only: true, h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"x-a: v\r\nx-injected", "1"}},
		// A name with a space or a colon: nghttp2 drops such a field by
		// default; RFC 9113 8.2.1 makes the request malformed.
		{name: "name_space", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"x a", "1"}, status: 400},
		{name: "name_colon", h2Only: true, h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"x:a", "1"}},
		// Leading or trailing whitespace: OWS over HTTP/1.1 (trimmed),
		// malformed over h2 (RFC 9113 8.2.1).
		{name: "value_outer_space", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"X-A", " v "}, status: 200, upOnly: []string{"X-A", "v"}},
		{name: "path_crlf", h2Only: true, h2Status: -1, method: "GET", path: "/ HTTP/1.1\r\nX-Injected: 1\r\n\r\n" + smuggled, authority: "h"},
		{name: "path_nul", h2Status: -1, method: "GET", path: "/a\x00b", authority: "h", status: 400},
		{name: "authority_crlf", h2Only: true, h2Status: -1, method: "GET", path: "/", authority: "h\r\nX-Injected: 1"},
		{name: "authority_nul", h2Status: -1, method: "GET", path: "/", authority: "h\x00", status: 400},
		{name: "method_crlf", h2Only: true, h2Status: -1, method: smuggled + "GET", path: "/", authority: "h"},

		// 2. Host and :authority (RFC 9113 8.3.1). One of them routes and
		// the upstream gets that one, alone: :authority, as the target's
		// authority wins over Host in an HTTP/1.1 absolute-form.
		{name: "authority_public_host_internal", method: "GET", path: "/x", authority: "public.example",
			h2Fields: h2Req("GET", "http", "/x", "public.example", "host", "internal.example"),
			h1Raw:    "GET http://public.example/x HTTP/1.1\r\nHost: internal.example\r\n\r\n",
			status:   200, upTarget: "/x"},
		{name: "authority_internal_host_public", method: "GET", path: "/x", authority: "internal.example",
			h2Fields: h2Req("GET", "http", "/x", "internal.example", "host", "public.example"),
			h1Raw:    "GET http://internal.example/x HTTP/1.1\r\nHost: public.example\r\n\r\n",
			status:   403},
		// Host alone (no :authority) routes like :authority.
		{name: "host_only_internal", method: "GET", path: "/x", authority: "internal.example",
			h2Fields: []string{":method", "GET", ":scheme", "http", ":path", "/x", "host", "internal.example"}, status: 403},
		{name: "host_only_public", method: "GET", path: "/x", authority: "public.example",
			h2Fields: []string{":method", "GET", ":scheme", "http", ":path", "/x", "host", "public.example"}, status: 200},
		{name: "host_twice", h2Status: -1, method: "GET", path: "/x", authority: "public.example",
			h2Fields: []string{":method", "GET", ":scheme", "http", ":path", "/x", "host", "public.example", "host", "internal.example"},
			h1Raw:    "GET /x HTTP/1.1\r\nHost: public.example\r\nHost: internal.example\r\n\r\n", status: 400},
		// Spellings of the denied host: any case, a port, the absolute
		// DNS name (trailing dot), which upstreams such as nginx serve as
		// the same virtual host.
		{name: "authority_upper_case", method: "GET", path: "/x", authority: "INTERNAL.Example", status: 403},
		{name: "authority_with_port", method: "GET", path: "/x", authority: "internal.example:8080", status: 403},
		{name: "authority_trailing_dot", method: "GET", path: "/x", authority: "internal.example.", status: 403},
		{name: "authority_trailing_dot_port", method: "GET", path: "/x", authority: "internal.example.:80", status: 403},

		// 3. Connection-specific fields are malformed over h2 (RFC 9113
		// 8.2.2); over HTTP/1.1 they are hop-by-hop and go before routing.
		{name: "h2_connection", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"Connection", "keep-alive"}, status: 200, upAbsent: []string{"Connection"}},
		{name: "h2_keep_alive", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"Keep-Alive", "timeout=5"}, status: 200, upAbsent: []string{"Keep-Alive"}},
		{name: "h2_proxy_connection", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"Proxy-Connection", "keep-alive"}, status: 200, upAbsent: []string{"Proxy-Connection"}},
		{name: "h2_upgrade", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"Upgrade", "websocket"}, status: 200, upAbsent: []string{"Upgrade"}},
		// (Over HTTP/1.1 without "Connection: Upgrade" this is no upgrade
		// request: Upgrade goes as hop-by-hop, HTTP2-Settings, which the
		// client's Connection does not name, passes; RFC 9113 3.2.1 was
		// RFC 7540's.)
		{name: "h2_upgrade_h2c", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"Upgrade", "h2c", "HTTP2-Settings", "AAMAAABkAARAAAAAAAIAAAAA"}, status: 200,
			upAbsent: []string{"Upgrade"}},
		{name: "h2_te_gzip", h2Status: -1, method: "GET", path: "/", authority: "h",
			headers: []string{"TE", "gzip"}, status: 200, upAbsent: []string{"TE"}},
		{name: "h2_transfer_encoding", h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"transfer-encoding", "chunked"}, h2Data: []string{"1\r\nx\r\n0\r\n\r\n" + smuggled},
			h1Raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", body: "x", status: 200},
		// te: trailers is the one TE h2 allows; HTTP/1.1 upstreams do not get it.
		{name: "h2_te_trailers", method: "GET", path: "/", authority: "h",
			headers: []string{"TE", "trailers"}, status: 200, upAbsent: []string{"TE"}},

		// 4. content-length against DATA: nghttp2 checks each DATA frame
		// and END_STREAM against it; the upstream never gets a body framed
		// otherwise, and its connection is not reused in the middle of one.
		{name: "content_length_ok", method: "POST", path: "/", authority: "h",
			headers: []string{"Content-Length", "3"}, body: "abc", status: 200, upOnly: []string{"Content-Length", "3"}},
		// Without content-length the body goes chunked: a request inside
		// it stays body.
		{name: "body_carries_request", method: "POST", path: "/", authority: "h",
			h2Data: []string{"abc", smuggled}, body: "abc" + smuggled,
			h1Raw:  "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("abc") + chunk(smuggled) + "0\r\n\r\n",
			status: 200},
		// A sized body cannot carry trailers in HTTP/1.1: they are not
		// written after it, where they would be the upstream's next request.
		{name: "content_length_with_trailers", h2Only: true, method: "POST", path: "/", authority: "h",
			headers: []string{"content-length", "1"}, trailers: []string{"x-t", "1"},
			status: 200, upOnly: []string{"Content-Length", "1"}, upAbsent: []string{"X-T"}},
		{name: "content_length_smaller_one_frame", h2Only: true, h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"content-length", "3"}, h2Data: []string{"abc" + smuggled}},
		{name: "content_length_smaller_next_frame", h2Only: true, h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"content-length", "3"}, h2Data: []string{"abc", smuggled}, upBodyMax: "abc"},
		{name: "content_length_larger", h2Only: true, h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"content-length", "100"}, h2Data: []string{"abc"}},
		{name: "content_length_no_data", h2Only: true, h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"content-length", "5"}},
		{name: "content_length_zero_with_data", h2Only: true, h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"content-length", "0"}, h2Data: []string{smuggled}},
		{name: "content_length_twice_same", h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"Content-Length", "1", "Content-Length", "1"}, body: "x", status: 400},
		{name: "content_length_twice_differ", h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"Content-Length", "1", "Content-Length", "38"}, body: "x" + smuggled, status: 400},
		{name: "content_length_list", h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"Content-Length", "1, 1"}, body: "x", status: 400},
		{name: "content_length_signed", h2Status: -1, method: "POST", path: "/", authority: "h",
			headers: []string{"Content-Length", "+1"}, body: "x", status: 400},

		// 5. :path forms. An HTTP/1.1 request line carries what moe sends;
		// an absolute or authority-less :path there would make the upstream
		// read another host or path than the one routed (nghttp2 checks
		// the form only for :scheme http and https, in any case; moe
		// refuses the rest with 400).
		{name: "path_space", h2Status: -1, method: "GET", path: "/a b", authority: "h", status: 400},
		{name: "path_request_line", h2Only: true, h2Status: -1, method: "GET", path: "/ HTTP/1.1", authority: "h"},
		{name: "path_empty", h2Status: -1, method: "GET", path: "", authority: "h",
			h1Raw: "GET  HTTP/1.1\r\nHost: h\r\n\r\n", status: 400},
		{name: "path_absolute_http", h2Status: -1, method: "GET", path: "http://internal.example/x", authority: "public.example", status: 403},
		{name: "path_absolute_scheme_other", h2Only: true, h2Status: 400, method: "GET", authority: "public.example",
			h2Fields: h2Req("GET", "foo", "http://internal.example/private", "public.example")},
		{name: "path_absolute_scheme_upper", h2Only: true, h2Status: -1, method: "GET", authority: "public.example",
			h2Fields: h2Req("GET", "HTTP", "http://internal.example/private", "public.example")},
		{name: "path_no_slash_scheme_other", h2Only: true, h2Status: 400, method: "GET", authority: "public.example",
			h2Fields: h2Req("GET", "foo", "private/x", "public.example")},
		{name: "path_asterisk_get", h2Status: -1, method: "GET", path: "*", authority: "h", status: 400},
		{name: "path_asterisk_get_scheme_other", h2Only: true, h2Status: 400, method: "GET", authority: "public.example",
			h2Fields: h2Req("GET", "foo", "*", "public.example")},
		// OPTIONS * is a request line HTTP/1.1 has; no route takes it here.
		{name: "path_asterisk_options", method: "OPTIONS", path: "*", authority: "h", status: 404},
		{name: "missing_scheme", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: []string{":method", "GET", ":path", "/", ":authority", "h"}},
		{name: "missing_method", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: []string{":scheme", "http", ":path", "/", ":authority", "h"}},
		{name: "missing_path", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: []string{":method", "GET", ":scheme", "http", ":authority", "h"}},

		// 6. CONNECT over h2: no tunnel is built (501, even with a CONNECT
		// route), and nothing reaches the upstream. Extended CONNECT
		// (RFC 8441) is not offered (no SETTINGS_ENABLE_CONNECT_PROTOCOL),
		// so :protocol is an unknown pseudo-field.
		{name: "connect", h2Only: true, h2Status: 501, method: "CONNECT", authority: "db.internal:5432",
			h2Fields: []string{":method", "CONNECT", ":authority", "db.internal:5432"}},
		{name: "connect_with_path", h2Only: true, h2Status: -1, method: "CONNECT", authority: "db.internal:5432",
			h2Fields: []string{":method", "CONNECT", ":authority", "db.internal:5432", ":path", "/"}},
		{name: "connect_with_data", h2Only: true, h2Status: 501, method: "CONNECT", authority: "db.internal:5432",
			h2Fields: []string{":method", "CONNECT", ":authority", "db.internal:5432"}, h2Data: []string{smuggled}},
		{name: "extended_connect_websocket", h2Only: true, h2Status: -1, method: "CONNECT", authority: "h",
			h2Fields: h2Req("CONNECT", "http", "/chat", "h", ":protocol", "websocket")},
		{name: "protocol_on_get", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: []string{":method", "GET", ":protocol", "websocket", ":scheme", "http", ":path", "/", ":authority", "h"}},

		// 7. Fields moe owns: x-forwarded-for gets the peer appended,
		// x-forwarded-proto is moe's, x-request-id passes as sent, the same
		// over both protocols.
		{name: "forwarded_fields", method: "GET", path: "/", authority: "h",
			headers: []string{"X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https", "X-Request-Id", "r1"},
			status:  200, upOnly: []string{"X-Forwarded-For", "203.0.113.9, 127.0.0.1", "X-Forwarded-Proto", "http", "X-Request-Id", "r1"}},

		// 8. Cookie split across fields goes to HTTP/1.1 as one field
		// joined with "; " (RFC 9113 8.2.3), not ", ". (HTTP/1.1 cookie
		// lines pass as sent.)
		{name: "cookie_split", h2Only: true, method: "GET", path: "/", authority: "h",
			headers: []string{"cookie", "a=1", "x-b", "2", "cookie", "b=2", "cookie", "c=3"},
			status:  200, upOnly: []string{"Cookie", "a=1; b=2; c=3"}},

		// 9. Pseudo-field order and names (RFC 9113 8.3): refused.
		{name: "pseudo_after_regular", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: []string{":method", "GET", ":scheme", "http", "x-a", "1", ":path", "/", ":authority", "h"}},
		{name: "pseudo_duplicate_path", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: h2Req("GET", "http", "/", "h", ":path", "/private/x")},
		{name: "pseudo_duplicate_authority", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: h2Req("GET", "http", "/", "public.example", ":authority", "internal.example")},
		{name: "pseudo_duplicate_method", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: h2Req("GET", "http", "/", "h", ":method", "POST")},
		{name: "pseudo_unknown", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: h2Req("GET", "http", "/", "h", ":host", "internal.example")},
		{name: "pseudo_status_in_request", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: h2Req("GET", "http", "/", "h", ":status", "200")},
		{name: "name_upper_case", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: h2Req("GET", "http", "/", "h", "X-User-Id", "admin")},
		{name: "pseudo_upper_case", h2Only: true, h2Status: -1, method: "GET", authority: "h",
			h2Fields: []string{":METHOD", "GET", ":scheme", "http", ":path", "/", ":authority", "h"}},
	}
	runHostileInputs(t, m.Addr("listen"), up, cases)
	noPrivate(t, up)
	for _, r := range up.Requests() {
		if strings.Contains(strings.ToLower(strings.Join(r.Lines, "\n")), "internal.example") {
			t.Fatalf("the upstream got a request naming internal.example: %s %s %v", r.Method, r.Target, r.Lines)
		}
	}
}
