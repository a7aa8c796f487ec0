package integration

// h2spec (github.com/summerwind/h2spec, installed by `make tools` into
// build/tools with go install) against moe's h2c listener: the generic,
// http2 (RFC 7540/9113) and hpack sections, every case must pass.
//
// TestH2Spec proxies to startEcho, which reads the whole request before it
// answers, as an application does for a request with a body.
// TestH2SpecDirectResponse answers every request from moe itself, before
// the request has ended: moe's response is then complete while h2spec is
// still sending, and the protocol errors it sends next must still get
// their RST_STREAM or GOAWAY (moe keeps such a stream open until the
// client ends it, at most a second: docs/design/http2.md). Both must pass
// every case on every run.

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// h2specBin is H2SPEC, build/tools/h2spec of the repository, or h2spec on
// PATH. Missing is a failure (make test installs it), not a skip.
func h2specBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("H2SPEC"); p != "" {
		return p
	}
	p := filepath.Join(moeSrc(), "build", "tools", "h2spec")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	if p, err := exec.LookPath("h2spec"); err == nil {
		return p
	}
	t.Fatalf("h2spec not found at %s or on PATH: run `make tools` (go install github.com/summerwind/h2spec/cmd/h2spec)", p)
	return ""
}

var h2specSummary = regexp.MustCompile(`(\d+) tests, (\d+) passed, (\d+) skipped, (\d+) failed`)

func TestH2Spec(t *testing.T) {
	up := startEcho(t, "up")
	runH2spec(t, startMoe(t, h2YAML(1, up.Addr)))
}

func TestH2SpecDirectResponse(t *testing.T) {
	up := startEcho(t, "up")
	y := strings.Replace(h2YAML(1, up.Addr), "    routes:\n",
		"    routes:\n      - match: {prefix: /}\n        direct_response: {status: 200, body: \"direct\\n\"}\n", 1)
	runH2spec(t, startMoe(t, y))
}

// TestH2SpecTLS: the same suite over TLS (ALPN h2), proxied and direct;
// h2spec's TLS mode also checks the TLS 1.2 rules of RFC 9113 9.2.
func TestH2SpecTLS(t *testing.T) {
	ca := newTLSCA(t)
	cert, key := ca.leaf("h2spec", "localhost")
	up := startEcho(t, "up")
	y := tlsYAML(true, up.Addr, cert, key)
	// h2spec holds streams open for seconds: not the 1 s header timeout.
	y = strings.Replace(y, "    timeouts: {request_headers: 1s}\n", "", 1)
	t.Run("proxied", func(t *testing.T) { runH2spec(t, startMoe(t, y), "-t", "-k") })
	d := strings.Replace(y, "    routes:\n",
		"    routes:\n      - match: {prefix: /}\n        direct_response: {status: 200, body: \"direct\\n\"}\n", 1)
	t.Run("direct", func(t *testing.T) { runH2spec(t, startMoe(t, d), "-t", "-k") })
}

// runH2spec runs the whole suite against m's listener (extra: h2spec
// flags, -t -k for TLS).
func runH2spec(t *testing.T, m *Moe, extra ...string) {
	bin := h2specBin(t)
	host, port, _ := strings.Cut(m.Addr("listen"), ":")
	// -o: seconds h2spec waits for each expected frame.
	args := append([]string{"-h", host, "-p", port, "-o", "3"}, extra...)
	code, stdout, stderr := runCmd(t, 5*time.Minute, bin, args...)
	sm := h2specSummary.FindStringSubmatch(stdout)
	if sm == nil {
		t.Fatalf("h2spec exit %d, no summary line\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	total, _ := strconv.Atoi(sm[1])
	passed, _ := strconv.Atoi(sm[2])
	skipped, _ := strconv.Atoi(sm[3])
	failed, _ := strconv.Atoi(sm[4])
	t.Logf("h2spec: %s", sm[0])
	if failed != 0 || skipped != 0 || code != 0 {
		// The failing cases, with h2spec's expected/actual lines.
		var b strings.Builder
		sc := bufio.NewScanner(strings.NewReader(stdout))
		show := 0
		for sc.Scan() {
			line := sc.Text()
			if strings.Contains(line, "×") {
				show = 6
			}
			if show > 0 {
				b.WriteString(line + "\n")
				show--
			}
		}
		t.Errorf("h2spec exit %d: %d of %d failed, %d skipped:\n%s", code, failed, total, skipped, b.String())
	}
	// h2spec 2.2.1 (pinned in the Makefile) has 145 cases in its generic,
	// http2 and hpack sections; fewer means a section did not run.
	if total != 145 || passed != total-failed-skipped {
		t.Errorf("h2spec ran %d tests (%d passed); expected the full suite of 145", total, passed)
	}
	// moe is still serving after everything h2spec threw at it.
	if len(extra) > 0 && extra[0] == "-t" {
		_, out, errOut := runCmd(t, 60*time.Second, "curl", "-sS", "-k", "--http2", "-o", "/dev/null", "-w", "%{http_version} %{http_code}",
			"https://"+m.Addr("listen")+"/after-h2spec")
		if out != "2 200" {
			t.Errorf("after h2spec: curl over TLS %q %s", out, errOut)
		}
		return
	}
	if body, status := curlH2(t, m.URL("/after-h2spec")); status != "2 200" {
		t.Errorf("after h2spec: curl %q %s", status, body)
	}
}
