package integration

import (
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// SIGHUP checks a changed file's Go filter configs the way --validate does
// (every chain built and discarded) while the running chains keep serving.
// Before, SIGHUP checked only the YAML: a filter config that would fail the
// restart was called valid. One table for SIGHUP and --validate: each row
// is run through both and must get the same verdict.
func TestSIGHUPChecksGoFilterConfigs(t *testing.T) {
	requireGo(t)
	t.Parallel()
	up := startEcho(t, "up")
	const good = `      - name: headers
        config: {response_set: {x-gen: one}}`
	m := startMoe(t, goFilterYAML(1, good), "up", up.Addr)
	running, err := os.ReadFile(m.Config)
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string) {
		t.Helper()
		st, h, b := httpGet(t, m.URL("/x"))
		if st != 200 || h.Get("x-gen") != "one" {
			t.Errorf("%s: %d x-gen=%q %q, want 200 and the running chain's x-gen: one", when, st, h.Get("x-gen"), b)
		}
	}
	check("before")
	rows := []struct {
		name    string
		from    string // replaced in the running file
		to      string
		invalid []string // what the SIGHUP error must say; nil = valid
	}{
		{"bad filter config", "{response_set: {x-gen: one}}", "{response_sett: {x-gen: two}}",
			[]string{"listeners[0].filters[0]", `filter "headers"`, "response_sett"}},
		{"unknown filter", "name: headers", "name: no_such_filter",
			[]string{"listeners[0].filters[0]", "no_such_filter"}},
		{"plugins changed", "workers: 1\n", "workers: 1\ngo: {plugins: [/nonexistent/p.so]}\n",
			[]string{"go.plugins", "plugin list changed"}},
		{"valid change", "x-gen: one", "x-gen: two", nil},
	}
	for _, r := range rows {
		next := strings.Replace(string(running), r.from, r.to, 1)
		if next == string(running) {
			t.Fatalf("%s: %q is not in the config", r.name, r.from)
		}
		if err := os.WriteFile(m.Config, []byte(next), 0o644); err != nil {
			t.Fatal(err)
		}
		mark := len(readFileString(m.Stderr))
		m.Signal(syscall.SIGHUP)
		verdict := "SIGHUP: config invalid; keeping the running config"
		if r.invalid == nil {
			verdict = "is valid; live reload is not supported yet"
		}
		var log string
		if !waitFor(10*time.Second, func() bool {
			log = readFileString(m.Stderr)[mark:]
			return strings.Contains(log, "SIGHUP: config")
		}) {
			t.Fatalf("%s: no SIGHUP verdict after 10s:\n%s", r.name, tailFile(m.Stderr, 4096))
		}
		if !strings.Contains(log, verdict) {
			t.Errorf("%s: SIGHUP said\n%s\nwant %q", r.name, log, verdict)
		}
		for _, w := range r.invalid {
			if !strings.Contains(log, w) {
				t.Errorf("%s: the SIGHUP errors do not say %q:\n%s", r.name, w, log)
			}
		}
		if r.invalid != nil && !strings.Contains(log, m.Config+":") && r.name != "plugins changed" {
			t.Errorf("%s: the error does not name the file:line:\n%s", r.name, log)
		}
		// --validate on the same file gives the same verdict (plugins that
		// cannot open fail there too, for their own reason).
		code, _, stderr := runCmd(t, 20*time.Second, moeBin(t), "--validate", "-c", m.Config)
		if (code == 0) != (r.invalid == nil) {
			t.Errorf("%s: --validate exit %d (%s), SIGHUP said %q", r.name, code, stderr, verdict)
		}
		check("after SIGHUP (" + r.name + ")")
	}
}
