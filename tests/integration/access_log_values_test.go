package integration

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAccessLogStreamValues: log.access_log_values names Stream.Set keys
// that every access-log line carries (json: "values", text: one quoted field
// each after the user agent); a key no filter set is null / "-". The user
// agent is logged too, quoted in text. (Before, Stream.Set values never
// reached the log, though go-filters.md said they did.)
func TestAccessLogStreamValues(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startEcho(t, "up")
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			logPath := filepath.Join(t.TempDir(), "access.log")
			y := pluginYAML(1, []string{p.TestFilters}, [3]string{"main", "listen", "      - name: test_probe"})
			y = strings.Replace(y, `log: {level: info, access_log: "off"}`,
				fmt.Sprintf("log: {level: info, access_log: %q, access_log_format: %s, access_log_values: [test_probe, never_set]}", logPath, format), 1)
			m := startMoe(t, y, "up", up.Addr)
			if st, _, _ := httpGet(t, m.URL("/logged"), "User-Agent", `agent "quoted" 1.0`); st != 200 {
				t.Fatalf("status %d", st)
			}
			if format == "json" {
				e := waitEntry(t, logPath, "/logged")
				if e["user_agent"] != `agent "quoted" 1.0` {
					t.Errorf("user_agent %v", e["user_agent"])
				}
				v, ok := e["values"].(map[string]any)
				if !ok || v["test_probe"] != "request" || v["never_set"] != nil || len(v) != 2 {
					t.Errorf("values %#v, want {test_probe: request, never_set: null}", e["values"])
				}
				return
			}
			var line string
			if !waitFor(5*time.Second, func() bool {
				for _, l := range strings.Split(readFileString(logPath), "\n") {
					if strings.Contains(l, "/logged") {
						line = l
						return true
					}
				}
				return false
			}) {
				t.Fatalf("no access log line for /logged:\n%s", readFileString(logPath))
			}
			if !strings.HasSuffix(line, ` "agent \x22quoted\x22 1.0" "request" "-"`) {
				t.Errorf("text line does not end with the quoted user agent and values: %q", line)
			}
		})
	}
}
