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
			for _, bad := range []byte{'\r', '\n', 0, 0x0c, 0x0e, 0x8d, 0xff, 'a'} {
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
