package api

import (
	"slices"
	"testing"
)

func TestSecretFieldsAccumulate(t *testing.T) {
	SecretFields("test_secret_fields", "client_secret")
	SecretFields("test_secret_fields", "upstream_pass", "nested")
	if got := secretFields("test_secret_fields"); !slices.Equal(got, []string{"client_secret", "upstream_pass", "nested"}) {
		t.Fatalf("secretFields = %q", got)
	}
	if got := secretFields("never_registered"); len(got) != 0 {
		t.Fatalf("unregistered filter: %q", got)
	}
}
