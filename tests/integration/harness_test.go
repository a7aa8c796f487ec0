package integration

// The harness: find and run the moe binary, allocate ports, talk to the admin
// listener, read moe's memory use, and small client helpers shared by tests.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ioTimeout bounds every single read/write/dial a test does on a socket.
const ioTimeout = 10 * time.Second

func TestMain(m *testing.M) {
	// ctest runs plain `go test ./...`; on a 2-core box -parallel defaults to
	// 2, which serialises the many tests that mostly wait on timers. Unless
	// the caller chose a value, allow more. Heavy tests (100 MiB transfers,
	// 1,000 clients) do not call t.Parallel and so run alone, before the
	// parallel ones.
	explicit := false
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			explicit = true
		}
	})
	if !explicit {
		_ = flag.Set("test.parallel", "6")
	}
	raiseNofile()
	os.Exit(m.Run())
}

// raiseNofile lifts RLIMIT_NOFILE to its hard limit. Children (moe, nginx)
// inherit the limit set through syscall.Setrlimit.
func raiseNofile() {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return
	}
	rl.Cur = rl.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
}

func moduleDir() string {
	wd, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return wd
}

// moeBin is MOE_BIN, or ../../build/moe relative to this module.
func moeBin(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("MOE_BIN")
	if bin == "" {
		bin = filepath.Join(moduleDir(), "..", "..", "build", "moe")
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatalf("MOE_BIN %q: %v", bin, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		t.Fatalf("moe binary not found at %s (set MOE_BIN or build it): %v", abs, err)
	}
	if st.Mode()&0o111 == 0 {
		t.Fatalf("moe binary %s is not executable", abs)
	}
	return abs
}

// moeSrc is MOE_SRC, or the repository root two levels up.
func moeSrc() string {
	if s := os.Getenv("MOE_SRC"); s != "" {
		return s
	}
	return filepath.Join(moduleDir(), "..", "..")
}

// freePort returns "127.0.0.1:PORT" for a port that was free a moment ago.
func freePort(t testing.TB) string {
	t.Helper()
	addr, err := freePortOn("127.0.0.1")
	if err != nil {
		t.Fatalf("freePort: %v", err)
	}
	return addr
}

// handedOut is every port freePortOn returned in this test binary: the
// kernel can give the same free port to two listen(":0") calls in a row
// (seen: admin and listener of one config got the same port, and moe
// refused the config), so a port is handed out once per run.
var (
	handedOutMu sync.Mutex
	handedOut   = map[string]bool{}
)

// freePortOn is freePort for another loopback address ("[::1]").
func freePortOn(host string) (string, error) {
	for attempt := 0; ; attempt++ {
		ln, err := net.Listen("tcp", host+":0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		handedOutMu.Lock()
		fresh := !handedOut[addr]
		handedOut[addr] = true
		handedOutMu.Unlock()
		if fresh || attempt == 50 {
			return addr, nil
		}
	}
}

// closedPort returns an address nobody listens on (connect gets ECONNREFUSED).
func closedPort(t testing.TB) string { return freePort(t) }

// ---------------------------------------------------------------------------
// moe process

// Moe is one running moe process.
type Moe struct {
	t       testing.TB
	Cmd     *exec.Cmd
	Dir     string            // the test's temp dir; config and logs live here
	Config  string            // path of the config file
	Admin   string            // admin address, host:port
	Addrs   map[string]string // placeholder name -> host:port, e.g. "listen"
	Stdout  string            // path of captured stdout
	Stderr  string            // path of captured stderr
	done    chan struct{}
	waitErr error
	stopped bool
	mu      sync.Mutex
}

// Addr is the address allocated for placeholder {{name}} ("listen", "listen2", ...).
func (m *Moe) Addr(name string) string {
	a, ok := m.Addrs[name]
	if !ok {
		m.t.Fatalf("config has no {{%s}} placeholder", name)
	}
	return a
}

// URL is "http://" + the main listener address + path.
func (m *Moe) URL(path string) string { return "http://" + m.Addr("listen") + path }

var placeholderRE = regexp.MustCompile(`\{\{([a-z0-9_]+)\}\}`)

// startMoe writes yamlText into a temp dir and runs `moe -c FILE`.
//
// Placeholders: {{admin}} (always allocate it: readiness is probed there),
// {{listen}}, {{listen2}}, ... (any other {{name}} gets a fresh free
// address), {{tmp}} (the temp dir). vars are extra "name", "value" pairs
// replaced first, for upstream addresses and the like. A var named "admin"
// sets the admin address itself (one that is not a fresh 127.0.0.1 port,
// such as 0.0.0.0:PORT); readiness is then probed there.
//
// It waits for GET /ready == 200. Cleanup sends SIGTERM and asserts exit 0
// within 20s; on failure the tail of stdout/stderr is logged.
func startMoe(t testing.TB, yamlText string, vars ...string) *Moe {
	t.Helper()
	return startMoeWrapped(t, nil, yamlText, vars...)
}

// startMoeWrapped is startMoe with the moe command run through wrap (e.g.
// taskset -c 0), which must exec moe in its own process.
func startMoeWrapped(t testing.TB, wrap []string, yamlText string, vars ...string) *Moe {
	t.Helper()
	if len(vars)%2 != 0 {
		t.Fatal("startMoe: vars must be name/value pairs")
	}
	bin := moeBin(t)
	dir := t.TempDir()
	admin := ""
	for i := 0; i < len(vars); i += 2 {
		if vars[i] == "admin" {
			admin = vars[i+1]
		}
		yamlText = strings.ReplaceAll(yamlText, "{{"+vars[i]+"}}", vars[i+1])
	}
	yamlText = strings.ReplaceAll(yamlText, "{{tmp}}", dir)
	if admin == "" && !strings.Contains(yamlText, "{{admin}}") {
		t.Fatal("startMoe: the config must contain {{admin}}")
	}
	var lastErr string
	// A port from freePort can be taken by someone else before moe binds it;
	// retry a few times with fresh ports when moe dies during startup.
	for attempt := 0; attempt < 3; attempt++ {
		addrs := map[string]string{}
		if admin != "" {
			addrs["admin"] = admin
		}
		text := placeholderRE.ReplaceAllStringFunc(yamlText, func(s string) string {
			name := placeholderRE.FindStringSubmatch(s)[1]
			if a, ok := addrs[name]; ok {
				return a
			}
			a := freePort(t)
			addrs[name] = a
			return a
		})
		cfg := filepath.Join(dir, fmt.Sprintf("moe-%d.yaml", attempt))
		if err := os.WriteFile(cfg, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		m := &Moe{t: t, Dir: dir, Config: cfg, Admin: addrs["admin"], Addrs: addrs,
			Stdout: filepath.Join(dir, fmt.Sprintf("moe-%d.stdout", attempt)),
			Stderr: filepath.Join(dir, fmt.Sprintf("moe-%d.stderr", attempt)),
			done:   make(chan struct{})}
		outF, err := os.Create(m.Stdout)
		if err != nil {
			t.Fatal(err)
		}
		errF, err := os.Create(m.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		argv := append(append([]string{}, wrap...), bin, "-c", cfg)
		m.Cmd = exec.Command(argv[0], argv[1:]...)
		m.Cmd.Dir = dir
		m.Cmd.Stdout = outF
		m.Cmd.Stderr = errF
		if err := m.Cmd.Start(); err != nil {
			outF.Close()
			errF.Close()
			t.Fatalf("start %s: %v", bin, err)
		}
		go func() {
			m.waitErr = m.Cmd.Wait()
			outF.Close()
			errF.Close()
			close(m.done)
		}()
		err = m.waitReady(20 * time.Second)
		if err == nil {
			t.Cleanup(func() { m.cleanup() })
			return m
		}
		select {
		case <-m.done:
			// moe died during startup; maybe a port clash: retry.
			lastErr = fmt.Sprintf("moe exited during startup (%v): %v\nconfig:\n%s\nstderr:\n%s\nstdout:\n%s",
				m.waitErr, err, text, tailFile(m.Stderr, 4096), tailFile(m.Stdout, 4096))
			if !strings.Contains(strings.ToLower(lastErr), "in use") {
				t.Fatal(lastErr)
			}
			continue
		default:
			_ = m.Cmd.Process.Kill()
			<-m.done
			t.Fatalf("moe not ready: %v\nconfig:\n%s\nstderr:\n%s\nstdout:\n%s",
				err, text, tailFile(m.Stderr, 4096), tailFile(m.Stdout, 4096))
		}
	}
	t.Fatal(lastErr)
	return nil
}

func (m *Moe) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			return fmt.Errorf("process exited: %v", m.waitErr)
		default:
		}
		resp, err := c.Get("http://" + m.Admin + "/ready")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Errorf("GET /ready: status %d", resp.StatusCode)
		} else {
			last = err
		}
		time.Sleep(25 * time.Millisecond)
	}
	return fmt.Errorf("GET http://%s/ready never returned 200: %v", m.Admin, last)
}

// Pid of the moe process.
func (m *Moe) Pid() int { return m.Cmd.Process.Pid }

// Signal sends sig to moe.
func (m *Moe) Signal(sig syscall.Signal) {
	m.t.Helper()
	if err := m.Cmd.Process.Signal(sig); err != nil {
		m.t.Fatalf("signal %v: %v", sig, err)
	}
}

// Exited reports whether the process has exited.
func (m *Moe) Exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM and asserts moe exits 0 within 20s.
func (m *Moe) Stop() {
	m.t.Helper()
	m.mu.Lock()
	if m.stopped {
		m.mu.Unlock()
		return
	}
	m.stopped = true
	m.mu.Unlock()
	start := time.Now()
	if !m.Exited() {
		_ = m.Cmd.Process.Signal(syscall.SIGTERM)
	}
	m.WaitExit(20 * time.Second)
	if d := time.Since(start); d > 2*time.Second {
		m.t.Logf("note: moe took %v to exit after SIGTERM", d.Round(10*time.Millisecond))
	}
}

// WaitExit asserts moe exits with status 0 within limit (after a SIGTERM the
// test sent itself).
func (m *Moe) WaitExit(limit time.Duration) {
	m.t.Helper()
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	select {
	case <-m.done:
	case <-time.After(limit):
		_ = m.Cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-m.done:
		case <-time.After(2 * time.Second):
			_ = m.Cmd.Process.Kill()
			<-m.done
		}
		m.t.Errorf("moe did not exit within %v of SIGTERM", limit)
		m.logOutput()
		return
	}
	if m.waitErr != nil {
		m.t.Errorf("moe exit after SIGTERM: %v (want exit status 0)", m.waitErr)
		m.logOutput()
	}
}

// Kill ends moe with SIGKILL (after a failure already reported) so cleanup
// does not wait again.
func (m *Moe) Kill() {
	m.mu.Lock()
	m.stopped = true
	m.mu.Unlock()
	_ = m.Cmd.Process.Kill()
	<-m.done
}

func (m *Moe) cleanup() {
	m.Stop()
	if m.t.Failed() {
		m.logOutput()
	}
}

func (m *Moe) logOutput() {
	m.t.Logf("moe config %s:\n%s", m.Config, readFileString(m.Config))
	m.t.Logf("moe stderr (tail):\n%s", tailFile(m.Stderr, 8192))
	m.t.Logf("moe stdout (tail):\n%s", tailFile(m.Stdout, 8192))
}

func readFileString(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

func tailFile(p string, n int64) string {
	f, err := os.Open(p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "<" + err.Error() + ">"
	}
	off := st.Size() - n
	if off < 0 {
		off = 0
	}
	b := make([]byte, st.Size()-off)
	_, _ = f.ReadAt(b, off)
	return string(b)
}

// ---------------------------------------------------------------------------
// memory

// procStatusKiB reads a "Key:   N kB" field of /proc/PID/status.
func procStatusKiB(t testing.TB, pid int, key string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read /proc/%d/status: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, key+":") {
			f := strings.Fields(strings.TrimPrefix(line, key+":"))
			if len(f) >= 1 {
				v, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return v
				}
			}
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, key)
	return 0
}

// RSS returns moe's VmRSS and VmHWM in bytes.
func (m *Moe) RSS() (rss, hwm int64) {
	return procStatusKiB(m.t, m.Pid(), "VmRSS") * 1024, procStatusKiB(m.t, m.Pid(), "VmHWM") * 1024
}

// ---------------------------------------------------------------------------
// admin

func (m *Moe) adminGet(t testing.TB, path string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: ioTimeout, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := c.Get("http://" + m.Admin + path)
	if err != nil {
		t.Fatalf("admin GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("admin GET %s: read body: %v", path, err)
	}
	return resp.StatusCode, string(b)
}

// ---------------------------------------------------------------------------
// clients

// newClient is a net/http client that never uses proxy env vars and keeps
// one connection per host unless told otherwise.
func newClient() *http.Client {
	return &http.Client{
		Timeout: 60 * time.Second,
		Transport: &http.Transport{
			Proxy:               nil,
			DisableCompression:  true,
			MaxIdleConnsPerHost: 64,
			DialContext:         (&net.Dialer{Timeout: ioTimeout}).DialContext,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// httpDo runs one request and returns status, headers and body.
func httpDo(t testing.TB, c *http.Client, method, url string, body io.Reader, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
		} else {
			req.Header.Add(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

// fetch runs req on c and reads the whole body. No testing.T: for
// goroutines, which must not call t.Fatal.
func fetch(c *http.Client, req *http.Request) (*http.Response, []byte, error) {
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// inParallel runs fn(0) .. fn(n-1) on n goroutines, waits for all, and
// reports every error they return.
func inParallel(t testing.TB, n int, fn func(i int) error) {
	t.Helper()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := fn(i); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// httpGet is a GET on a fresh client with a 20s overall timeout.
func httpGet(t testing.TB, url string, hdr ...string) (int, http.Header, []byte) {
	t.Helper()
	c := newClient()
	c.Timeout = 20 * time.Second
	return httpDo(t, c, "GET", url, nil, hdr...)
}

// dial opens a raw TCP connection with a deadline on everything.
func dial(t testing.TB, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// rawResponse is one HTTP/1 response read off a raw connection.
type rawResponse struct {
	Status int
	Proto  string
	Header http.Header
	Body   []byte
}

// readResponse reads one response with net/http's parser (method decides
// whether a body follows).
func readResponse(t testing.TB, br *bufio.Reader, method string) *rawResponse {
	t.Helper()
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read response body: %v (got %d bytes)", err, len(b))
	}
	return &rawResponse{Status: resp.StatusCode, Proto: resp.Proto, Header: resp.Header, Body: b}
}

// readStatusLine reads "HTTP/1.x NNN reason\r\n" and returns NNN.
func readStatusLine(br *bufio.Reader) (int, string, error) {
	line, err := br.ReadString('\n')
	if err != nil {
		return 0, line, err
	}
	f := strings.Fields(line)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/1.") {
		return 0, line, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(f[1])
	return code, line, err
}

// expectClosed asserts that the peer closes conn (EOF or reset) within limit;
// any bytes still arriving are discarded.
func expectClosed(t testing.TB, c net.Conn, r io.Reader, limit time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 4096)
	for {
		_, err := r.Read(buf)
		if err == nil {
			continue
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("connection still open %v after the response (want moe to close it)", limit)
			return
		}
		return // io.EOF, ECONNRESET: closed
	}
}

// isClosedErr reports an EOF/reset style error.
func isClosedErr(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// waitFor polls cond every 20ms until it is true or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runCmd runs a command with a deadline and returns exit code, stdout, stderr.
func runCmd(t testing.TB, limit time.Duration, name string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out after %v", name, args, limit)
	}
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	return code, out.String(), errb.String()
}

// readRawResponse reads one response without net/http's header processing:
// every header line as sent (Connection, Trailer, Transfer-Encoding too).
func readRawResponse(t testing.TB, br *bufio.Reader, method string) *rawResponse {
	t.Helper()
	line, err := readLine(br)
	if err != nil {
		t.Fatalf("read status line: %v", err)
	}
	f := strings.SplitN(line, " ", 3)
	if len(f) < 2 || !strings.HasPrefix(f[0], "HTTP/") {
		t.Fatalf("bad status line %q", line)
	}
	code, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("bad status line %q", line)
	}
	r := &upReq{Header: http.Header{}}
	for {
		l, err := readLine(br)
		if err != nil {
			t.Fatalf("read response headers: %v", err)
		}
		if l == "" {
			break
		}
		i := strings.IndexByte(l, ':')
		if i <= 0 {
			t.Fatalf("bad response header line %q", l)
		}
		name := http.CanonicalHeaderKey(l[:i])
		r.Header[name] = append(r.Header[name], strings.TrimSpace(l[i+1:]))
	}
	for _, te := range r.Header.Values("Transfer-Encoding") {
		if strings.Contains(strings.ToLower(te), "chunked") {
			r.Chunked = true
		}
	}
	resp := &rawResponse{Status: code, Proto: f[0], Header: r.Header}
	if method == "HEAD" || code == 204 || code == 304 || code/100 == 1 {
		return resp
	}
	var body io.Reader
	if r.Chunked || r.Header.Get("Content-Length") != "" {
		body = r.BodyReader(br)
	} else {
		body = br // close-delimited
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatalf("read response body: %v (got %d bytes)", err, len(b))
	}
	resp.Body = b
	return resp
}
