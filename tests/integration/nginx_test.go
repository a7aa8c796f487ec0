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
	if _, err := os.Stat(nginxBin); err != nil {
		t.Fatalf("nginx not installed at %s: %v", nginxBin, err)
	}
	prefix := t.TempDir()
	for _, d := range []string{"logs", "html", "tmp"} {
		if err := os.MkdirAll(filepath.Join(prefix, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The big file: 8 MiB of the pattern stream.
	const bigLen = 8 << 20
	f, err := os.Create(filepath.Join(prefix, "html", "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), newPatternStream(bigLen)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	n := &nginx{Prefix: prefix, BigSHA: hex.EncodeToString(h.Sum(nil)), BigLen: bigLen}

	user := ""
	if os.Geteuid() == 0 {
		// t.TempDir is 0700 root: the worker must stay root to read it.
		user = "user root root;"
	}
	for attempt := 0; attempt < 3; attempt++ {
		n.Addr = freePort(t)
		conf := fmt.Sprintf(`%s
worker_processes 1;
pid %[2]s/logs/nginx.pid;
error_log %[2]s/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path %[2]s/tmp/client_body;
    proxy_temp_path %[2]s/tmp/proxy;
    fastcgi_temp_path %[2]s/tmp/fastcgi;
    uwsgi_temp_path %[2]s/tmp/uwsgi;
    scgi_temp_path %[2]s/tmp/scgi;
    client_max_body_size 0;
    keepalive_requests 100000;
    server {
        listen %[3]s;
        root %[2]s/html;
        location = / { return 200 "nginx-ok"; }
        location = /echo-headers {
            return 200 "$http_x_forwarded_for|$http_host|$http_connection|$http_x_forwarded_proto\n";
        }
        location = /big { default_type application/octet-stream; alias %[2]s/html/big.bin; }
    }
}
`, user, prefix, n.Addr)
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
		c := &http.Client{Timeout: time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
		ready := waitFor(10*time.Second, func() bool {
			select {
			case <-done:
				return true
			default:
			}
			resp, err := c.Get("http://" + n.Addr + "/")
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
		select {
		case <-done:
			log := readFileString(filepath.Join(prefix, "logs", "error.log")) + readFileString(filepath.Join(prefix, "logs", "stdout"))
			if attempt < 2 {
				continue // port clash: try another port
			}
			t.Fatalf("nginx exited during startup:\n%s", log)
		default:
		}
		if !ready {
			stop()
			t.Fatalf("nginx on %s never answered GET /", n.Addr)
		}
		t.Cleanup(stop)
		return n
	}
	return nil
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
