package integration

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// TestGoBufferedResponseKeepsTrailers: a filter that buffers the response
// (bodyrewrite: StopAndBuffer from its response-headers hook, body
// rewritten to another size) keeps the upstream's trailers: chunked with
// trailers to an HTTP/1.1 client, a trailers HEADERS frame on h2. moe sent
// such a response sized and dropped them (issue 13, defect 2).
func TestGoBufferedResponseKeepsTrailers(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startUpstream(t, "up", func(c *upConn, r *upReq) bool {
		var b bytes.Buffer
		b.WriteString("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n")
		for _, p := range []string{"hello ", "internal ", "world"} {
			fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
		}
		b.WriteString("0\r\nx-checksum: abc123\r\n\r\n")
		_, err := c.Write(b.Bytes())
		return err == nil && !r.wantsClose()
	})
	m := startMoe(t, goFilterYAMLWith(1, `      - name: bodyrewrite
        config: {replacements: [{from: "internal", to: "public-facing"}]}`, "    http2: true\n"), "up", up.Addr)
	const want = "hello public-facing world"

	t.Run("h1", func(t *testing.T) {
		resp, err := newClient().Get(m.URL("/t"))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(body) != want {
			t.Fatalf("body %q, %v; want %q", body, err, want)
		}
		if got := resp.Trailer.Get("X-Checksum"); got != "abc123" {
			t.Fatalf("trailer x-checksum %q (trailers %v, TE %v, CL %d), want abc123", got, resp.Trailer,
				resp.TransferEncoding, resp.ContentLength)
		}
	})
	t.Run("h2", func(t *testing.T) {
		h := dialH2(t, m.Addr("listen"))
		h.get(1, "/t")
		var blocks [][]string
		ex, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
			if f.Type == frameHeaders && f.Stream == 1 {
				var fields []string
				dec := hpack.NewDecoder(4096, func(hf hpack.HeaderField) { fields = append(fields, hf.Name+": "+hf.Value) })
				dec.Write(f.Payload)
				blocks = append(blocks, fields)
			}
			e := ex[1]
			return e != nil && (e.Ended || e.Reset != 0)
		})
		if err != nil {
			t.Fatal(err)
		}
		if e := ex[1]; e == nil || string(e.Body) != want {
			t.Fatalf("h2 body: %+v, want %q", ex[1], want)
		}
		if len(blocks) != 2 || !strings.Contains(strings.Join(blocks[1], "\n"), "x-checksum: abc123") {
			t.Fatalf("h2 header blocks %q: want the response and a trailers block with x-checksum", blocks)
		}
	})
}
