package integration

// TLS listeners: certificates chosen by SNI, ALPN h2 and http/1.1, bodies
// both ways through the proxy, versions below 1.2 refused, plain HTTP and
// stalled handshakes closed, config errors naming file:line. The
// certificates are made here, for each run (tlsCA), never committed.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// tlsCA is a test CA that signs leaf certificates into dir.
type tlsCA struct {
	t    *testing.T
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	Pool *x509.CertPool
}

func newTLSCA(t *testing.T) *tlsCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "moe test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tlsCA{t: t, dir: t.TempDir(), cert: cert, key: key, Pool: pool}
}

// issue signs a leaf for name with the given DNS and URI SANs and usage.
func (ca *tlsCA) issue(name string, usage x509.ExtKeyUsage, uris []string, dns []string) ([]byte, *ecdsa.PrivateKey) {
	ca.t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     dns,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	for _, u := range uris {
		pu, err := url.Parse(u)
		if err != nil {
			ca.t.Fatal(err)
		}
		tmpl.URIs = append(tmpl.URIs, pu)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		ca.t.Fatal(err)
	}
	return der, key
}

// client returns a client certificate (client auth) from ca with the
// given URI SANs (SPIFFE IDs) and DNS names.
func (ca *tlsCA) client(name string, uris []string, dns ...string) tls.Certificate {
	ca.t.Helper()
	der, key := ca.issue(name, x509.ExtKeyUsageClientAuth, uris, dns)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// caFile writes the CA certificate as PEM and returns its path.
func (ca *tlsCA) caFile() string {
	p := filepath.Join(ca.dir, "ca.pem")
	os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw}), 0o644)
	return p
}

// leaf writes name.pem (the leaf, then the CA: a chain) and name.key for
// the DNS names given (none: a CN only) and returns their paths.
func (ca *tlsCA) leaf(name string, dns ...string) (certFile, keyFile string) {
	ca.t.Helper()
	der, key := ca.issue(name, x509.ExtKeyUsageServerAuth, nil, dns)
	var chain bytes.Buffer
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: der})
	pem.Encode(&chain, &pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(ca.dir, name+".pem"), filepath.Join(ca.dir, name+".key")
	if err := os.WriteFile(certFile, chain.Bytes(), 0o644); err != nil {
		ca.t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		ca.t.Fatal(err)
	}
	return certFile, keyFile
}

// tlsYAML: listener "main" on {{listen}} with tls certificates (pairs of
// files) and http2, route / to cluster up at upAddr.
func tlsYAML(http2 bool, upAddr string, files ...string) string {
	var b strings.Builder
	b.WriteString("    tls:\n      certificates:\n")
	for i := 0; i+1 < len(files); i += 2 {
		fmt.Fprintf(&b, "        - {cert_chain: %q, private_key: %q}\n", files[i], files[i+1])
	}
	y := simpleYAML(1, upAddr)
	keys := b.String() + "    timeouts: {request_headers: 1s}\n"
	if http2 {
		keys = "    http2: true\n" + keys
	}
	return strings.Replace(y, "    address: \"{{listen}}\"\n", "    address: \"{{listen}}\"\n"+keys, 1)
}

// tlsPeerNames dials addr with SNI serverName (empty: none) and returns the
// DNS names (or the CN) of the certificate moe presented.
func tlsPeerNames(t *testing.T, addr, serverName string) []string {
	t.Helper()
	c, err := tls.Dial("tcp", addr, &tls.Config{ServerName: serverName, InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS dial with SNI %q: %v", serverName, err)
	}
	defer c.Close()
	leaf := c.ConnectionState().PeerCertificates[0]
	if len(leaf.DNSNames) == 0 {
		return []string{"CN=" + leaf.Subject.CommonName}
	}
	return leaf.DNSNames
}

// tlsClient is an HTTP client that trusts ca and reaches every name at
// addr; h2 picks HTTP/2 by ALPN, else HTTP/1.1 only.
func tlsClient(ca *tlsCA, addr string, h2 bool) *http.Client {
	dial := func(network, _ string) (net.Conn, error) { return net.Dial("tcp", addr) }
	cfg := &tls.Config{RootCAs: ca.Pool}
	if h2 {
		cfg.NextProtos = []string{"h2"}
		return &http.Client{Timeout: 30 * time.Second, Transport: &http2.Transport{TLSClientConfig: cfg,
			DialTLS: func(network, a string, c *tls.Config) (net.Conn, error) {
				raw, err := dial(network, a)
				if err != nil {
					return nil, err
				}
				tc := tls.Client(raw, c)
				return tc, tc.Handshake()
			}}}
	}
	cfg.NextProtos = []string{"http/1.1"}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg,
		DialContext: func(_ context.Context, network, a string) (net.Conn, error) { return dial(network, a) }}}
}

// TestTLSListener: one listener, three certificates (a.test with
// *.w.test, b.test, and a CN-only default first), HTTP/2 on.
func TestTLSListener(t *testing.T) {
	t.Parallel()
	ca := newTLSCA(t)
	defCert, defKey := ca.leaf("default")
	aCert, aKey := ca.leaf("a", "a.test", "*.w.test")
	bCert, bKey := ca.leaf("b", "B.test")
	up := bigUpstream(t)
	m := startMoe(t, tlsYAML(true, up.Addr, defCert, defKey, aCert, aKey, bCert, bKey))
	addr := m.Addr("listen")

	t.Run("sni", func(t *testing.T) {
		for _, c := range []struct{ sni, want string }{
			{"a.test", "a.test"},
			{"A.TEST", "a.test"},  // names are case-insensitive
			{"x.w.test", "a.test"}, // *.w.test: one label
			{"b.test", "b.test"},
			{"y.x.w.test", "CN=default"}, // a wildcard covers one label only
			{"w.test", "CN=default"},
			{"other.test", "CN=default"},
			{"", "CN=default"}, // no SNI
		} {
			if got := tlsPeerNames(t, addr, c.sni); !strings.EqualFold(got[0], c.want) {
				t.Errorf("SNI %q: certificate for %v, want %s", c.sni, got, c.want)
			}
		}
	})

	for _, h2 := range []bool{false, true} {
		proto, wantProto := "h1", "HTTP/1.1"
		if h2 {
			proto, wantProto = "h2", "HTTP/2.0"
		}
		t.Run(proto, func(t *testing.T) {
			cl := tlsClient(ca, addr, h2)
			// A small GET, verified against the CA by name.
			resp, err := cl.Get("https://a.test/small")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || resp.Proto != wantProto || !strings.Contains(string(body), `"target":"/small"`) ||
				!strings.Contains(string(body), `"X-Forwarded-Proto":["https"]`) {
				t.Fatalf("GET: %d %s %q", resp.StatusCode, resp.Proto, body)
			}
			if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
				t.Fatalf("TLS state %+v", resp.TLS)
			}
			// An 8 MiB response and a 3 MiB request body through the proxy.
			resp, err = cl.Get("https://b.test/big")
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || n != 8<<20 {
				t.Fatalf("GET /big: %d bytes, %v", n, err)
			}
			payload := bytes.Repeat([]byte("0123456789abcdef"), 3<<16)
			resp, err = cl.Post("https://x.w.test/upload", "application/octet-stream", bytes.NewReader(payload))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(body), fmt.Sprintf(`"body_len":%d`, len(payload))) {
				t.Fatalf("POST 3 MiB: %d %q", resp.StatusCode, body)
			}
		})
	}

	t.Run("old_versions_refused", func(t *testing.T) {
		for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
			c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: v, MaxVersion: v})
			if err == nil {
				c.Close()
				t.Errorf("TLS version %x: handshake succeeded", v)
			}
		}
	})

	t.Run("plain_http_closed_at_once", func(t *testing.T) {
		before := len(up.Requests())
		c := dial(t, addr)
		defer c.Close()
		start := time.Now()
		io.WriteString(c, "GET /small HTTP/1.1\r\nHost: a.test\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		got, err := io.ReadAll(c)
		if err != nil && !isClosedErr(err) {
			t.Fatalf("read: %v (got %q)", err, got)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Errorf("closed after %v: the request-headers timeout (1s), not at once", d)
		}
		if strings.Contains(string(got), "HTTP/1.1") {
			t.Errorf("plaintext answer on a TLS port: %q", got)
		}
		if len(up.Requests()) != before {
			t.Errorf("the plain request reached the upstream")
		}
		if !waitFor(5*time.Second, func() bool {
			v, _ := statValue(t, m, "moe_downstream_tls_handshake_failures_total", map[string]string{"listener": "main"})
			return v >= 1
		}) {
			t.Errorf("moe_downstream_tls_handshake_failures_total did not count it")
		}
	})

	t.Run("stalled_handshake_timed_out", func(t *testing.T) {
		// Silent, and half a ClientHello: both are held to the
		// request-headers timeout (1s here).
		for _, first := range [][]byte{nil, {0x16, 0x03, 0x01, 0x02, 0x00, 0x01}} {
			c := dial(t, addr)
			start := time.Now()
			c.Write(first)
			c.SetReadDeadline(time.Now().Add(10 * time.Second))
			_, err := io.ReadAll(c)
			c.Close()
			d := time.Since(start)
			if err != nil && !isClosedErr(err) {
				t.Fatalf("first bytes %x: %v", first, err)
			}
			if d < 800*time.Millisecond || d > 5*time.Second {
				t.Errorf("first bytes %x: closed after %v, want about 1s", first, d)
			}
		}
	})
}

// TestTLSWithoutHTTP2: ALPN offers only http/1.1 when the listener has no
// http2, so an h2-preferring client speaks HTTP/1.1.
func TestTLSWithoutHTTP2(t *testing.T) {
	t.Parallel()
	ca := newTLSCA(t)
	cert, key := ca.leaf("a", "a.test")
	up := startEcho(t, "up")
	m := startMoe(t, tlsYAML(false, up.Addr, cert, key))
	c, err := tls.Dial("tcp", m.Addr("listen"), &tls.Config{ServerName: "a.test", RootCAs: ca.Pool, NextProtos: []string{"h2", "http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Fatalf("ALPN %q, want http/1.1", p)
	}
	io.WriteString(c, "GET /x HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n")
	got, _ := io.ReadAll(c)
	if !strings.HasPrefix(string(got), "HTTP/1.1 200") {
		t.Fatalf("answer %q", got)
	}
}

// TestTLSConfigErrors: --validate and startup read the certificates the
// same way; each error names the certificate entry's file:line and key.
func TestTLSConfigErrors(t *testing.T) {
	t.Parallel()
	ca := newTLSCA(t)
	aCert, aKey := ca.leaf("a", "a.test")
	bCert, bKey := ca.leaf("b", "b.test")
	dupCert, dupKey := ca.leaf("dup", "a.test")
	garbage := filepath.Join(ca.dir, "garbage.pem")
	os.WriteFile(garbage, []byte("not a certificate\n"), 0o644)
	dir := t.TempDir()
	cases := []struct {
		name  string
		files []string
		want  string
	}{
		{"missing_file", []string{filepath.Join(dir, "nope.pem"), aKey}, "nope.pem: No such file or directory"},
		{"not_pem", []string{garbage, aKey}, "garbage.pem: not a PEM certificate chain"},
		{"key_mismatch", []string{aCert, bKey}, "the key does not match the certificate"},
		{"duplicate_name", []string{aCert, aKey, dupCert, dupKey}, "name a.test is also in certificates[0]"},
		{"ok", []string{aCert, aKey, bCert, bKey}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, c.name+".yaml")
			y := strings.ReplaceAll(tlsYAML(false, "127.0.0.1:1", c.files...), "{{listen}}", "127.0.0.1:0")
			y = strings.ReplaceAll(y, "{{admin}}", "127.0.0.1:0")
			y = strings.ReplaceAll(y, "{{tmp}}", dir)
			os.WriteFile(file, []byte(y), 0o644)
			// The entry with the error is the last certificate of each
			// case: its "- {cert_chain" line, counted from 1, and its index.
			entry, index := 0, len(c.files)/2-1
			for i, l := range strings.Split(y, "\n") {
				if strings.Contains(l, "cert_chain") {
					entry = i + 1
				}
			}
			for _, args := range [][]string{{"--validate", "-c", file}, {"-c", file}} {
				if c.want == "" && args[0] == "-c" {
					continue // a valid file would start a server
				}
				cmd := exec.Command(moeBin(t), args...)
				out, err := cmd.CombinedOutput()
				if c.want == "" {
					if err != nil {
						t.Fatalf("%v: %v: %s", args, err, out)
					}
					continue
				}
				if err == nil {
					t.Fatalf("%v: exit 0: %s", args, out)
				}
				wantLoc := fmt.Sprintf("%s:%d:", file, entry)
				if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), wantLoc) ||
					!strings.Contains(string(out), fmt.Sprintf("listeners[0].tls.certificates[%d]", index)) {
					t.Fatalf("%v: output %q, want %q at %s", args, out, c.want, wantLoc)
				}
			}
		})
	}
}

// TestTLSClientCertificates: mTLS. A client certificate from the
// configured CA with an allowed SPIFFE ID (URI SAN) or DNS SAN gets
// through; no certificate, another CA's, or names not in match_sans fail
// the handshake, and nothing reaches the upstream. Over HTTP/1.1 and h2.
// (Adding the refused row's DNS name to match_sans lets it through: the
// SAN check is what refuses it.)
func TestTLSClientCertificates(t *testing.T) {
	t.Parallel()
	ca := newTLSCA(t)
	other := newTLSCA(t)
	cert, key := ca.leaf("srv", "a.test")
	up := startEcho(t, "up")
	y := tlsYAML(true, up.Addr, cert, key)
	y = strings.Replace(y, "    tls:\n", fmt.Sprintf(
		"    tls:\n      client_certificates: {ca: %q, match_sans: [\"spiffe://td/ns/a/sa/good\", \"svc.internal\"]}\n", ca.caFile()), 1)
	m := startMoe(t, y)
	addr := m.Addr("listen")
	good := ca.client("good", []string{"spiffe://td/ns/a/sa/good"})
	goodDNS := ca.client("gooddns", nil, "svc.internal")
	wrongSAN := ca.client("bad", []string{"spiffe://td/ns/a/sa/evil"}, "evil.internal")
	otherCA := other.client("good", []string{"spiffe://td/ns/a/sa/good"})
	dialTLS := func(n, _ string, c *tls.Config) (net.Conn, error) {
		raw, err := net.Dial(n, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(raw, c)
		return tc, tc.Handshake()
	}
	for _, c := range []struct {
		name string
		cert *tls.Certificate
		ok   bool
	}{
		{"spiffe_id_allowed", &good, true},
		{"dns_san_allowed", &goodDNS, true},
		{"no_certificate", nil, false},
		{"san_not_allowed", &wrongSAN, false},
		{"other_ca", &otherCA, false},
	} {
		for _, h2 := range []bool{false, true} {
			proto := map[bool]string{false: "h1", true: "h2"}[h2]
			t.Run(c.name+"/"+proto, func(t *testing.T) {
				cfg := &tls.Config{ServerName: "a.test", RootCAs: ca.Pool}
				if c.cert != nil {
					cfg.Certificates = []tls.Certificate{*c.cert}
				}
				var rt http.RoundTripper
				if h2 {
					cfg.NextProtos = []string{"h2"}
					rt = &http2.Transport{TLSClientConfig: cfg, DialTLS: dialTLS}
				} else {
					cfg.NextProtos = []string{"http/1.1"}
					rt = &http.Transport{TLSClientConfig: cfg,
						DialContext: func(_ context.Context, n, _ string) (net.Conn, error) { return net.Dial(n, addr) }}
				}
				cl := &http.Client{Timeout: 10 * time.Second, Transport: rt}
				before := len(up.Requests())
				resp, err := cl.Get("https://a.test/mtls")
				if c.ok {
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
					if resp.StatusCode != 200 {
						t.Fatalf("status %d", resp.StatusCode)
					}
					return
				}
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got %d, want the handshake refused", resp.StatusCode)
				}
				if n := len(up.Requests()) - before; n != 0 {
					t.Fatalf("%d requests reached the upstream from a refused client", n)
				}
			})
		}
	}
	if v, _ := statValue(t, m, "moe_downstream_tls_handshake_failures_total", map[string]string{"listener": "main"}); v < 1 {
		t.Errorf("refused handshakes not counted: %v", v)
	}
}
