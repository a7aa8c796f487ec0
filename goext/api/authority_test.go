package api

import "testing"

// The same rows as tests/unit/headers_test.cc "valid_authority": the Go
// check (for the filter author's log) and moe's (applied to the op) agree.
func TestValidAuthorityMatchesMoe(t *testing.T) {
	for _, ok := range []string{"", "a", "a.example:8080", "a-b_c~d.e", "127.0.0.1", "127.0.0.1:80", "[::1]", "[::1]:443",
		"[::ffff:1.2.3.4]", "h:", "a%41b", "!$&'()*+,;="} {
		if !validAuthority(ok) {
			t.Errorf("validAuthority(%q) = false, want true", ok)
		}
	}
	for _, bad := range []string{"evil.com/x@y", "user:pw@h", "a b", "a:8o", `a\b`, "[::1", "[]", "[::1]x", "[v1.x]", "a%4",
		"a%zz", "a?b", "a#b", "h:80:80", "\x7f", "caf\xc3\xa9"} {
		if validAuthority(bad) {
			t.Errorf("validAuthority(%q) = true, want false", bad)
		}
	}
}
