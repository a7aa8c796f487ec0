package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

// yamlMain starts a config: one worker, the admin server, a JSON access log
// in {{tmp}}/access.log, and listener "main" on {{listen}}, open for more
// of its keys (indented 4) and the rest of the file.
var yamlMain = yamlHead(1)

// yamlHead is yamlMain with `workers` workers.
func yamlHead(workers int) string {
	return fmt.Sprintf(`workers: %d
admin: {address: "{{admin}}"}
log: {level: info, access_log: "{{tmp}}/access.log", access_log_format: json}
listeners:
  - name: main
    address: "{{listen}}"
`, workers)
}

// simpleYAML: one listener "main" on {{listen}} with route "to-up" (prefix /)
// to cluster "up" holding endpoints; JSON access log in {{tmp}}/access.log.
func simpleYAML(workers int, endpoints ...string) string {
	return yamlHead(workers) + fmt.Sprintf(`    routes:
      - name: to-up
        match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: [%s]
`, quoteList(endpoints))
}

// upYAML is yamlMain with more keys for its listener (lines indented for
// it, e.g. "    limits: {...}\n") and one route, /, to the cluster "up" at
// {{up}}.
func upYAML(listenerKeys string) string {
	return yamlMain + listenerKeys + `    routes:
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["{{up}}"]
`
}

func quoteList(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = `"` + x + `"`
	}
	return strings.Join(q, ", ")
}

// TestConfigValidate runs `moe --validate -c FILE` on a valid file and on two
// broken ones, checking the exit code and the FILE:LINE:COL: KEY: message
// format of the errors.
func TestConfigValidate(t *testing.T) {
	t.Parallel()
	bin := moeBin(t)
	dir := t.TempDir()

	valid := `workers: 1
admin: {address: "127.0.0.1:19901"}
listeners:
  - name: main
    address: "127.0.0.1:18080"
    routes:
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["127.0.0.1:19000"]
`
	// Line 6 holds the unknown key.
	unknownKey := `workers: 1
admin: {address: "127.0.0.1:19901"}
listeners:
  - name: main
    address: "127.0.0.1:18080"
    bogus_key: 1
    routes:
      - match: {prefix: /}
        cluster: up
clusters:
  - name: up
    endpoints: ["127.0.0.1:19000"]
`
	// Line 9 names a cluster that does not exist.
	missingCluster := `workers: 1
admin: {address: "127.0.0.1:19901"}
listeners:
  - name: main
    address: "127.0.0.1:18080"
    routes:
      - match: {prefix: /}
        cluster: up
      - match: {prefix: /x}
        cluster: nope
clusters:
  - name: up
    endpoints: ["127.0.0.1:19000"]
`
	// The route is on line 9, the cluster key on line 10.
	cases := []struct {
		name     string
		text     string
		wantCode int
		wantRE   string // regexp over stderr; FILE is replaced by the quoted path
	}{
		{"valid", valid, 0, ""},
		{"unknown_key", unknownKey, 1, `FILE:6:\d+: listeners\[0\]\.bogus_key: .*`},
		{"missing_cluster", missingCluster, 1, `FILE:10:\d+: listeners\[0\]\.routes\[1\]\.cluster: .*nope`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name+".yaml")
			if err := os.WriteFile(path, []byte(tc.text), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := runCmd(t, 20*time.Second, bin, "--validate", "-c", path)
			if code != tc.wantCode {
				t.Fatalf("moe --validate -c %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", path, code, tc.wantCode, stdout, stderr)
			}
			if tc.wantRE == "" {
				return
			}
			re := regexp.MustCompile(strings.ReplaceAll(tc.wantRE, "FILE", regexp.QuoteMeta(path)))
			if !re.MatchString(stderr) {
				// Accept a relative or base-name spelling of the file, but the
				// line number and key must be right.
				re2 := regexp.MustCompile(strings.ReplaceAll(tc.wantRE, "FILE", `\S*`+regexp.QuoteMeta(filepath.Base(path))))
				if !re2.MatchString(stderr) {
					t.Fatalf("stderr does not match %s\nstderr:\n%s", re, stderr)
				}
			}
		})
	}
}

// TestExampleConfigsValidate: every shipped example config (config/*.yaml
// under MOE_SRC) passes `moe --validate`.
func TestExampleConfigsValidate(t *testing.T) {
	t.Parallel()
	bin := moeBin(t)
	files, _ := filepath.Glob(filepath.Join(moeSrc(), "config", "*.yaml"))
	if len(files) == 0 {
		t.Skipf("no example configs in %s/config yet", moeSrc())
	}
	hasGo := moeHasGo(t)
	for _, f := range files {
		code, stdout, stderr := runCmd(t, 20*time.Second, bin, "--validate", "-c", f)
		if code != 0 && !hasGo && strings.Contains(stderr, "built without Go") {
			// The sanitizer build has no Go runtime: a config with Go
			// filters must be refused with that reason, and only that.
			t.Logf("%s: refused by a moe without Go, as it should be", f)
			continue
		}
		if code != 0 {
			t.Errorf("moe --validate -c %s: exit %d\nstdout:\n%s\nstderr:\n%s", f, code, stdout, stderr)
		}
	}
}

// TestWorkersAutoFollowsCPUs: `workers: auto` starts one worker per CPU the
// process may use: the affinity mask (taskset) and, where this test may
// make one, a cgroup CPU limit (a container's, a Kubernetes limit), not
// every CPU of the machine.
func TestWorkersAutoFollowsCPUs(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset")
	}
	if runtime.NumCPU() < 2 {
		t.Skip("one CPU: one worker whatever auto counts")
	}
	up := startEcho(t, "up")
	workers := func(m *Moe) float64 {
		v, ok := statValue(t, m, "moe_workers", nil)
		if !ok {
			t.Fatal("no moe_workers in /stats")
		}
		return v
	}
	yaml := strings.Replace(simpleYAML(1, "{{up}}"), "workers: 1", "workers: auto", 1)
	m := startMoeWrapped(t, []string{"taskset", "-c", "0"}, yaml, "up", up.Addr)
	if w := workers(m); w != 1 {
		t.Errorf("under taskset -c 0: %v workers, want 1", w)
	}
	if !strings.Contains(readFileString(m.Stderr)+readFileString(m.Stdout), "workers: auto = 1") {
		t.Errorf("no %q in the log", "workers: auto = 1")
	}
	if st, _, _ := httpGet(t, m.URL("/x")); st != 200 {
		t.Errorf("status %d", st)
	}

	// A cgroup v1 CPU limit of 1 CPU on a machine with more.
	cg := fmt.Sprintf("/sys/fs/cgroup/cpu/moe-test-%d", os.Getpid())
	if err := os.Mkdir(cg, 0o755); err != nil {
		t.Skipf("no cgroup v1 cpu controller to write to (%v): the limit part is skipped", err)
	}
	t.Cleanup(func() { os.Remove(cg) })
	if os.WriteFile(cg+"/cpu.cfs_period_us", []byte("100000"), 0o644) != nil ||
		os.WriteFile(cg+"/cpu.cfs_quota_us", []byte("100000"), 0o644) != nil {
		t.Skipf("cannot set a quota in %s: the limit part is skipped", cg)
	}
	join := []string{"sh", "-c", `echo $$ > "$0/cgroup.procs" && exec "$@"`, cg}
	if out, err := exec.Command(join[0], append(join[1:], "true")...).CombinedOutput(); err != nil {
		t.Skipf("cannot move a process into %s (%v: %s): the limit part is skipped", cg, err, out)
	}
	m2 := startMoeWrapped(t, join, yaml, "up", up.Addr)
	if w := workers(m2); w != 1 {
		t.Errorf("with a 1-CPU cgroup limit on %d CPUs: %v workers, want 1", runtime.NumCPU(), w)
	}
	if !strings.Contains(readFileString(m2.Stderr)+readFileString(m2.Stdout), "cgroup CPU limit 1.00") {
		t.Errorf("the log does not name the cgroup limit:\n%s", tailFile(m2.Stderr, 2000))
	}
	// moe stops (its cleanup) before the cgroup is removed (registered
	// earlier, so it runs later).
}
