package api

import "testing"

// validValue's word-at-a-time scan must agree with a byte loop for every
// bad byte at every position and length.
func TestValidValueWords(t *testing.T) {
	slow := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] == '\r' || s[i] == '\n' || s[i] == 0 {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 40; n++ {
		for pos := -1; pos < n; pos++ {
			for _, bad := range []byte{'\r', '\n', 0, '\t', 0x01, 0x0b, 0x0c, 0x0e, 0x8d, 0x8a, 0xff, 'a'} {
				b := make([]byte, n)
				for i := range b {
					b[i] = byte('A' + i%26)
				}
				if pos >= 0 {
					b[pos] = bad
				}
				if got, want := validValue(string(b)), slow(string(b)); got != want {
					t.Fatalf("validValue(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

func TestCanonName(t *testing.T) {
	for _, c := range []struct {
		in, out string
		ok      bool
	}{
		{"x-a", "x-a", true}, {"X-Request-ID", "x-request-id", true}, {"ABC", "abc", true},
		{"", "", false}, {"a b", "", false}, {":path", "", false}, {"A:b", "", false}, {"a\r", "", false}, {"\xc3\xa9", "", false},
	} {
		out, ok := canonName(c.in)
		if ok != c.ok || (ok && out != c.out) {
			t.Errorf("canonName(%q) = %q, %v", c.in, out, ok)
		}
		if validName(c.in) != (c.ok && c.in == c.out) {
			t.Errorf("validName(%q) = %v", c.in, validName(c.in))
		}
	}
}

// Only the very bytes of the last view are trusted, never equal bytes
// elsewhere or a longer string.
func TestIsView(t *testing.T) {
	v := "0123456789"
	if !isView(v, v) || !isView(v[:3], v) || isView("", v) || isView(v[1:], v) || isView(v, v[:3]) {
		t.Fatal("isView on the same memory")
	}
	if isView(string([]byte(v)), v) {
		t.Fatal("isView trusts a copy")
	}
}
