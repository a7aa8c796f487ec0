package integration

// Helpers for the Go filter tests (go_*_test.go): skip when moe was built
// without Go, read GET /go, build the test plugins once per test binary run,
// and a real HTTP auth service for extauth.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ---------------------------------------------------------------------------
// Is Go in this moe?

var goProbe struct {
	once    sync.Once
	enabled bool
	err     error
	body    string
}

// requireGo skips the test when moe was built without Go (GET /go answers
// {"enabled":false}, the sanitizer build). It asks a throwaway moe once per
// test binary run; a moe that cannot even start fails the test.
func requireGo(t *testing.T) {
	t.Helper()
	if !moeHasGo(t) {
		t.Skipf("moe was built without Go (GET /go: %s): the Go filter tests need a Go build", strings.TrimSpace(goProbe.body))
	}
}

// moeHasGo reports whether the moe under test runs Go filters (GET /go).
func moeHasGo(t *testing.T) bool {
	t.Helper()
	bin := moeBin(t)
	goProbe.once.Do(func() {
		goProbe.enabled, goProbe.body, goProbe.err = probeGo(bin)
	})
	if goProbe.err != nil {
		t.Fatalf("probing GET /go on %s: %v", bin, goProbe.err)
	}
	return goProbe.enabled
}

func probeGo(bin string) (bool, string, error) {
	dir, err := os.MkdirTemp("", "moe-go-probe-")
	if err != nil {
		return false, "", err
	}
	defer os.RemoveAll(dir)
	port := func() (string, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		defer ln.Close()
		return ln.Addr().String(), nil
	}
	for i := 0; i < 3; i++ {
		admin, err := port()
		if err != nil {
			return false, "", err
		}
		listen, err := port()
		if err != nil {
			return false, "", err
		}
		cfg := filepath.Join(dir, "probe.yaml")
		text := fmt.Sprintf(`workers: 1
admin: {address: %q}
log: {level: warn, access_log: "off"}
listeners:
  - name: probe
    address: %q
    routes:
      - match: {prefix: /}
        direct_response: {status: 200, body: "probe"}
`, admin, listen)
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			return false, "", err
		}
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "-c", cfg)
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			return false, "", err
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		body, perr := pollGo(admin, done, 20*time.Second)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if perr != nil {
			if strings.Contains(strings.ToLower(stderr.String()), "in use") {
				continue
			}
			return false, "", fmt.Errorf("%v; stderr: %s", perr, stderr.String())
		}
		var v struct {
			Enabled *bool `json:"enabled"`
		}
		if err := json.Unmarshal([]byte(body), &v); err != nil {
			return false, body, fmt.Errorf("GET /go is not JSON: %v: %q", err, body)
		}
		return v.Enabled == nil || *v.Enabled, body, nil
	}
	return false, "", errors.New("admin port kept clashing")
}

func pollGo(admin string, done chan error, limit time.Duration) (string, error) {
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			done <- err
			return "", fmt.Errorf("moe exited: %v", err)
		default:
		}
		resp, err := c.Get("http://" + admin + "/go")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return string(b), nil
			}
			last = fmt.Errorf("GET /go: status %d", resp.StatusCode)
		} else {
			last = err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return "", fmt.Errorf("GET /go never answered 200: %v", last)
}

// ---------------------------------------------------------------------------
// GET /go

// goStats reads GET /go: {"crossings":N,"goroutines":N,"panics":N,...}.
func goStats(t *testing.T, m *Moe) map[string]float64 {
	t.Helper()
	code, body := m.adminGet(t, "/go")
	if code != 200 {
		t.Fatalf("GET /go: status %d: %s", code, body)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); err != nil {
		t.Fatalf("GET /go is not JSON: %v: %q", err, body)
	}
	out := map[string]float64{}
	for k, v := range raw {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// goStat is one numeric field of GET /go; a missing field fails the test.
func goStat(t *testing.T, m *Moe, key string) float64 {
	t.Helper()
	s := goStats(t, m)
	v, ok := s[key]
	if !ok {
		t.Fatalf("GET /go has no numeric %q: %v", key, s)
	}
	return v
}

// stableGoStat polls /go until key reads the same value three times 50ms
// apart (events that end a stream may cross after the client got the last
// byte), bounded by 5s.
func stableGoStat(t *testing.T, m *Moe, key string) float64 {
	t.Helper()
	last, same := goStat(t, m, key), 0
	deadline := time.Now().Add(5 * time.Second)
	for same < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
		v := goStat(t, m, key)
		if v == last {
			same++
		} else {
			last, same = v, 0
		}
	}
	return last
}

// waitGoroutinesNear polls /go until goroutines <= baseline+margin, bounded
// by limit; it returns the last value seen and whether it got there.
func waitGoroutinesNear(t *testing.T, m *Moe, baseline, margin float64, limit time.Duration) (float64, bool) {
	t.Helper()
	var g float64
	ok := waitFor(limit, func() bool {
		g = goStat(t, m, "goroutines")
		return g <= baseline+margin
	})
	return g, ok
}

// statValue sums the /stats samples named name whose labels include want
// (0, false when there is none).
func statValue(t *testing.T, m *Moe, name string, want map[string]string) (float64, bool) {
	t.Helper()
	code, body := m.adminGet(t, "/stats")
	if code != 200 {
		t.Fatalf("GET /stats: status %d", code)
	}
	return promSum(parseProm(t, body), name, want)
}

// ---------------------------------------------------------------------------
// Test plugins, built once per test binary run.

// goPlugins are the .so files the tests load.
type goPlugins struct {
	TestFilters string // testdata/goplugins/testfilters via scripts/build-plugin.sh
	Hello       string // goext/examples/hello via scripts/build-plugin.sh
	NoTrimpath  string // goext/examples/hello via plain `go build -buildmode=plugin` (no -trimpath)
}

var pluginBuild struct {
	once sync.Once
	p    goPlugins
	err  error
}

// pluginDir is where the plugins go: one fixed directory per user and
// checkout (two worktrees build plugins against different goext sources,
// and must not overwrite each other's), so runs do not pile up copies; each
// build writes a temporary file and renames it into place, so a concurrent
// run never sees half a file. The Go build cache makes a rebuild take a
// second or two; a cold one about 35 s each.
func pluginDir() string {
	src, err := filepath.Abs(moeSrc())
	if err != nil {
		src = moeSrc()
	}
	h := fnv.New32a()
	h.Write([]byte(src))
	return filepath.Join(os.TempDir(), fmt.Sprintf("moe-integration-go-plugins-%d-%08x", os.Getuid(), h.Sum32()))
}

// testPlugins builds the test plugins (once per test binary run) and
// returns their paths; a failed build fails every test that needs them.
func testPlugins(t *testing.T) goPlugins {
	t.Helper()
	pluginBuild.once.Do(func() { pluginBuild.p, pluginBuild.err = buildPlugins() })
	if pluginBuild.err != nil {
		t.Fatalf("building the test plugins: %v", pluginBuild.err)
	}
	return pluginBuild.p
}

func buildPlugins() (goPlugins, error) {
	src, err := filepath.Abs(moeSrc())
	if err != nil {
		return goPlugins{}, err
	}
	dir := pluginDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return goPlugins{}, err
	}
	script := filepath.Join(src, "scripts", "build-plugin.sh")
	p := goPlugins{
		TestFilters: filepath.Join(dir, "testfilters.so"),
		Hello:       filepath.Join(dir, "hello.so"),
		NoTrimpath:  filepath.Join(dir, "hello-notrimpath.so"),
	}
	tmpName := func(final string) string { return fmt.Sprintf("%s.%d.tmp", final, os.Getpid()) }
	run := func(out string, cmd *exec.Cmd) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		c.Dir, c.Env = cmd.Dir, cmd.Env
		var outb bytes.Buffer
		c.Stdout, c.Stderr = &outb, &outb
		tmp := tmpName(out)
		if err := c.Run(); err != nil {
			os.Remove(tmp)
			return fmt.Errorf("%s: %v\n%s", strings.Join(cmd.Args, " "), err, outb.String())
		}
		return os.Rename(tmp, out)
	}
	// 1. testfilters and hello, the supported way.
	for _, b := range []struct{ dir, out string }{
		{filepath.Join(moduleDir(), "testdata", "goplugins", "testfilters"), p.TestFilters},
		{filepath.Join(src, "goext", "examples", "hello"), p.Hello},
	} {
		if err := run(b.out, exec.Command("bash", script, b.dir, tmpName(b.out))); err != nil {
			return goPlugins{}, err
		}
	}
	// 2. hello built by hand without -trimpath (but otherwise as the script
	// does: same toolchain, a go.work using goext), which moe must refuse.
	gov, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		return goPlugins{}, fmt.Errorf("go env GOVERSION: %v", err)
	}
	work, err := os.MkdirTemp("", "moe-notrim-work-")
	if err != nil {
		return goPlugins{}, err
	}
	defer os.RemoveAll(work)
	hello := filepath.Join(src, "goext", "examples", "hello")
	gowork := filepath.Join(work, "go.work")
	text := fmt.Sprintf("go %s\n\nuse (\n\t%s\n\t%s\n)\n", strings.TrimPrefix(strings.TrimSpace(string(gov)), "go"),
		hello, filepath.Join(src, "goext"))
	if err := os.WriteFile(gowork, []byte(text), 0o644); err != nil {
		return goPlugins{}, err
	}
	cmd := exec.Command("go", "build", "-buildmode=plugin", "-o", tmpName(p.NoTrimpath), ".")
	cmd.Dir = hello
	cmd.Env = append(os.Environ(), "GOWORK="+gowork, "GOTOOLCHAIN=local", "CGO_ENABLED=1")
	if err := run(p.NoTrimpath, cmd); err != nil {
		return goPlugins{}, err
	}
	return p, nil
}

// ---------------------------------------------------------------------------
// A real auth service for extauth.

// authCall is one request the auth service received.
type authCall struct {
	Method string
	URI    string
	Header http.Header
}

type authServer struct {
	Addr    string
	URL     string // http://ADDR/check
	srv     *http.Server
	release chan struct{} // closed at cleanup (or by Release): stalled handlers return
	relOnce sync.Once
	mu      sync.Mutex
	calls   []authCall
	active  atomic.Int64 // handlers running now
}

// startAuthServer runs h behind a net/http server on a free port; every call
// is recorded. Handlers that stall should wait on a.Stall(r).
func startAuthServer(t *testing.T, h func(a *authServer, w http.ResponseWriter, r *http.Request)) *authServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &authServer{Addr: ln.Addr().String(), release: make(chan struct{})}
	a.URL = "http://" + a.Addr + "/check"
	a.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.active.Add(1)
			defer a.active.Add(-1)
			a.mu.Lock()
			a.calls = append(a.calls, authCall{Method: r.Method, URI: r.RequestURI, Header: r.Header.Clone()})
			a.mu.Unlock()
			h(a, w, r)
		}),
	}
	go a.srv.Serve(ln)
	t.Cleanup(func() {
		a.Release()
		a.srv.Close()
	})
	return a
}

// Stall blocks until Release, the caller going away, or 30s; it reports
// whether the server was released (rather than the caller leaving).
func (a *authServer) Stall(r *http.Request) bool {
	select {
	case <-a.release:
		return true
	case <-r.Context().Done():
		return false
	case <-time.After(30 * time.Second):
		return false
	}
}

// Release lets every stalled handler answer.
func (a *authServer) Release() { a.relOnce.Do(func() { close(a.release) }) }

// Calls is a snapshot of the calls received.
func (a *authServer) Calls() []authCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]authCall(nil), a.calls...)
}

// Active is the number of handlers running now.
func (a *authServer) Active() int64 { return a.active.Load() }

// ---------------------------------------------------------------------------
// small helpers

// goYAMLPlugins is the go: section loading the given plugin files.
func goYAMLPlugins(paths ...string) string {
	return "go: {plugins: [" + quoteList(paths) + "]}\n"
}
