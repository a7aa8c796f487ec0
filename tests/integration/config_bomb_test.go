package integration

// YAML documents that are small on disk and huge once their aliases are
// expanded (billion laughs), or nested deeper than any config needs, are
// refused fast, the same way by --validate, by startup and by SIGHUP
// (issue 12, item 9).

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// aliasBombYAML is a valid-looking config whose filter config holds nine
// anchors, each a list of nine aliases of the one before: 9^9 nodes once
// expanded, 600-odd bytes on disk. The first alias of line 14 (l5) passes moe's
// bound (100,000 nodes added through aliases). admin is {{admin}} and the
// listener {{listen}} when started by startMoe; fixed ports otherwise.
func aliasBombYAML(admin, listen string) string {
	y := fmt.Sprintf(`admin: {address: "%s"}
listeners:
  - name: main
    address: "%s"
    routes: [{match: {prefix: /}, direct_response: {status: 200, body: "ok\n"}}]
    filters:
      - name: headers
        config:
          l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]
`, admin, listen)
	for i := 1; i < 9; i++ {
		y += fmt.Sprintf("          l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d, ", i-1), 9), ", "))
	}
	return y
}

const bombLine = 14 // l5: the line whose first alias passes the bound

// TestConfigValidateAliasBomb: `moe --validate` and `moe -c` refuse an alias
// bomb with exit 1 and "FILE:14:COL: YAML alias expansion over 100000
// nodes", and a document nested 10,000 lists deep with "nesting deeper than
// 100 levels". The waits are bounded (60s) only so a regression fails
// instead of hanging; before the bound, the bomb ran past 25s and 1.7 GB.
func TestConfigValidateAliasBomb(t *testing.T) {
	t.Parallel()
	bin := moeBin(t)
	dir := t.TempDir()
	bomb := filepath.Join(dir, "bomb.yaml")
	if err := os.WriteFile(bomb, []byte(aliasBombYAML("127.0.0.1:0", "127.0.0.1:0")), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := filepath.Join(dir, "deep.yaml")
	if err := os.WriteFile(deep, []byte("workers: "+strings.Repeat("[", 10000)+strings.Repeat("]", 10000)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"validate_bomb", []string{"--validate", "-c", bomb}, fmt.Sprintf("%s:%d:", bomb, bombLine)},
		{"start_bomb", []string{"-c", bomb}, fmt.Sprintf("%s:%d:", bomb, bombLine)},
		{"validate_deep", []string{"--validate", "-c", deep}, deep + ":1:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runCmd(t, 60*time.Second, bin, tc.args...)
			if code != 1 {
				t.Fatalf("exit %d, want 1; stderr:\n%s", code, stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not name %q:\n%s", tc.want, stderr)
			}
			msg := "YAML alias expansion over 100000 nodes"
			if strings.Contains(tc.name, "deep") {
				msg = "YAML nesting deeper than 100 levels"
			}
			if !strings.Contains(stderr, msg) {
				t.Errorf("stderr does not say %q:\n%s", msg, stderr)
			}
			if strings.Contains(stderr, "bad file") {
				t.Errorf("stderr says yaml-cpp's \"bad file\":\n%s", stderr)
			}
		})
	}
}

// TestSIGHUPAliasBombRejected: the config file is replaced by an alias bomb
// and moe gets SIGHUP. The main thread refuses it at once (logs the error
// with file:line and "SIGHUP: config invalid; keeping the running config"),
// and moe keeps serving: the listener and the admin endpoints answer, and
// memory stays where it was.
func TestSIGHUPAliasBombRejected(t *testing.T) {
	t.Parallel()
	m := startMoe(t, `admin: {address: "{{admin}}"}
log: {level: info, access_log: "off"}
listeners:
  - name: main
    address: "{{listen}}"
    routes: [{match: {prefix: /}, direct_response: {status: 200, body: "ok\n"}}]
`)
	rssBefore, _ := m.RSS()
	if err := os.WriteFile(m.Config, []byte(aliasBombYAML(m.Admin, m.Addr("listen"))), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Signal(syscall.SIGHUP)
	want := fmt.Sprintf("%s:%d:", m.Config, bombLine)
	if !waitFor(30*time.Second, func() bool {
		s := readFileString(m.Stderr)
		return strings.Contains(s, "SIGHUP: config invalid; keeping the running config")
	}) {
		t.Fatalf("no SIGHUP verdict in the log after 30s:\n%s", tailFile(m.Stderr, 4096))
	}
	log := readFileString(m.Stderr)
	if !strings.Contains(log, want) || !strings.Contains(log, "YAML alias expansion over 100000 nodes") {
		t.Errorf("the SIGHUP error does not name %q and the alias bound:\n%s", want, tailFile(m.Stderr, 4096))
	}
	if st, _, b := httpGet(t, m.URL("/")); st != 200 || string(b) != "ok\n" {
		t.Errorf("after SIGHUP: listener answered %d %q, want 200 ok", st, b)
	}
	if st, body := m.adminGet(t, "/ready"); st != 200 {
		t.Errorf("after SIGHUP: /ready %d %q", st, body)
	}
	if rss, _ := m.RSS(); rss > rssBefore+64<<20 {
		t.Errorf("RSS grew from %d to %d bytes on a refused SIGHUP", rssBefore, rss)
	}
}
