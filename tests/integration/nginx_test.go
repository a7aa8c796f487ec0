package integration

// Debian nginx as a real-world upstream.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

const nginxBin = "/usr/sbin/nginx"

type nginx struct {
	Addr   string
	Prefix string
	BigSHA string // sha256 of /big
	BigLen int64
}

// startNginx runs nginx in the foreground with its own prefix, one worker,
// listening on a free port. Locations:
//
//	/              200 "nginx-ok"
//	/echo-headers  200 "$http_x_forwarded_for|$http_host|$http_connection|$http_x_forwarded_proto\n"
//	/big           a generated 8 MiB file
func startNginx(t testing.TB) *nginx {
	t.Helper()
	const bigLen = 8 << 20
	prefix, bigSHA := nginxPrefix(t, bigLen)
	n := &nginx{Prefix: prefix, BigSHA: bigSHA, BigLen: bigLen}
	c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	n.Addr = runNginx(t, prefix, func(addr string) string {
		return fmt.Sprintf(`http {
    access_log off;
    default_type application/octet-stream;
%[3]s
    keepalive_requests 100000;
    server {
        listen %[2]s;
        root %[1]s/html;
        location = / { return 200 "nginx-ok"; }
        location = /echo-headers {
            return 200 "$http_x_forwarded_for|$http_host|$http_connection|$http_x_forwarded_proto\n";
        }
        location = /big { default_type application/octet-stream; alias %[1]s/html/big.bin; }
    }
}
`, prefix, addr, nginxTempPaths(prefix))
	}, func(addr string) bool {
		resp, err := c.Get("http://" + addr + "/")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return n
}

// nginxPrefix makes an nginx prefix (logs, html, tmp) in a test temp dir,
// with html/big.bin holding bigLen bytes of the pattern stream; it returns
// the prefix and that file's sha256.
func nginxPrefix(t testing.TB, bigLen int64) (prefix, bigSHA string) {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		t.Fatalf("nginx not installed at %s: %v", nginxBin, err)
	}
	prefix = t.TempDir()
	for _, d := range []string{"logs", "html", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(prefix, "html", "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), newPatternStream(bigLen)); err != nil {
		t.Fatal(err)
	}
	return prefix, hex.EncodeToString(h.Sum(nil))
}

// nginxTempPaths are the http-level lines that keep nginx's temp files in
// the prefix, and lift the body size limit.
func nginxTempPaths(prefix string) string {
	return fmt.Sprintf(`    client_body_temp_path %[1]s/tmp/client_body;
    proxy_temp_path %[1]s/tmp/proxy;
    fastcgi_temp_path %[1]s/tmp/fastcgi;
    uwsgi_temp_path %[1]s/tmp/uwsgi;
    scgi_temp_path %[1]s/tmp/scgi;
    client_max_body_size 0;`, prefix)
}

// runNginx runs nginx in the foreground in prefix, one worker, with the
// http block httpConf(addr) returns for a free port, until ready(addr);
// a port taken meanwhile means another try. The process is stopped
// (SIGQUIT) at cleanup. It returns the address.
func runNginx(t testing.TB, prefix string, httpConf func(addr string) string, ready func(addr string) bool) string {
	t.Helper()
	user := ""
	if os.Geteuid() == 0 {
		// t.TempDir is 0700 root: the worker must stay root to read it.
		user = "user root root;"
	}
	for attempt := 0; attempt < 3; attempt++ {
		addr := freePort(t)
		conf := fmt.Sprintf("%s\nworker_processes 1;\npid %[2]s/logs/nginx.pid;\nerror_log %[2]s/logs/error.log warn;\n"+
			"events { worker_connections 4096; }\n%[3]s", user, prefix, httpConf(addr))
		confPath := filepath.Join(prefix, "nginx.conf")
		if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(nginxBin, "-p", prefix, "-c", confPath, "-g", "daemon off;")
		out, _ := os.Create(filepath.Join(prefix, "logs", "stdout"))
		cmd.Stdout = out
		cmd.Stderr = out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start nginx: %v", err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); out.Close(); close(done) }()
		stop := func() {
			select {
			case <-done:
				return
			default:
			}
			cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		up := waitFor(10*time.Second, func() bool {
			select {
			case <-done:
				return true
			default:
			}
			return ready(addr)
		})
		select {
		case <-done:
			if attempt < 2 {
				continue // port clash: try another port
			}
			t.Fatalf("nginx exited during startup:\n%s", readFileString(filepath.Join(prefix, "logs", "error.log"))+
				readFileString(filepath.Join(prefix, "logs", "stdout")))
		default:
		}
		if !up {
			stop()
			t.Fatalf("nginx on %s never became ready", addr)
		}
		t.Cleanup(stop)
		return addr
	}
	return ""
}

// dialable reports whether something accepts TCP connections on addr.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}
