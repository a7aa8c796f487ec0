package integration

import (
	"testing"
	"time"

	"golang.org/x/net/http2/hpack"
)

// TestH2HpackUniqueIdsNotIndexed: moe's HPACK encoder does not fill the
// connection's dynamic table with values that are new on every response.
// Through the traceid filter, the first response on a connection indexes
// x-request-id (so its name is in the table); every later one sends its id
// as a "never indexed" literal (decoded as Sensitive), so the ids do not
// evict the fields that repeat (h2::make_field_nv).
func TestH2HpackUniqueIdsNotIndexed(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startEcho(t, "up")
	m := startMoe(t, goFilterYAMLWith(1, "      - name: traceid", "    http2: true\n"), "up", up.Addr)
	h := dialH2(t, m.Addr("listen"))
	defer h.c.Close()

	type field struct {
		value     string
		sensitive bool
	}
	var got []field
	dec := hpack.NewDecoder(4096, func(f hpack.HeaderField) {
		if f.Name == "x-request-id" {
			got = append(got, field{f.Value, f.Sensitive})
		}
	})
	const n = 6
	for i := 1; i <= n; i++ {
		id := uint32(2*i - 1)
		h.get(id, "/hpack")
		_, _, err := h.readUntil(10*time.Second, func(f h2Frame, ex map[uint32]*h2Exchange) bool {
			if f.Type == frameHeaders && f.Stream == id {
				if f.Flags&0x8 != 0 || f.Flags&0x20 != 0 {
					t.Fatalf("response HEADERS with PADDED/PRIORITY flags %#x: not expected from moe", f.Flags)
				}
				if _, err := dec.Write(f.Payload); err != nil {
					t.Fatalf("HPACK decode of response %d: %v", i, err)
				}
			}
			e := ex[id]
			return e != nil && e.Ended
		})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
	}
	if len(got) != n {
		t.Fatalf("%d x-request-id fields in %d responses: %+v", len(got), n, got)
	}
	seen := map[string]bool{}
	for i, f := range got {
		if !hex32RE.MatchString(f.value) || seen[f.value] {
			t.Fatalf("response %d: x-request-id %q (want a new 32-hex id)", i+1, f.value)
		}
		seen[f.value] = true
		if want := i > 0; f.sensitive != want {
			t.Fatalf("response %d: x-request-id never-indexed = %v, want %v (indexed once per connection, then never)", i+1, f.sensitive, want)
		}
	}
}
