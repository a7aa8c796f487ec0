package integration

// The gRPC harness: a grpc-go TestService server in the test process (plain
// h2c on 127.0.0.1:0, its accepted connections tracked so a test can reset
// them), grpc-go clients that dial moe, moe configs for gRPC, and a raw
// HTTP/2 (h2c) client for wire-level checks of what moe sends.
//
// The service is grpc-go's interop TestService
// (google.golang.org/grpc/interop/grpc_testing, generated stubs shipped in
// the grpc module), so no protoc step. Its behaviour is chosen per call by
// request metadata:
//
//	x-test-mode: block   the handler waits for its context to end and
//	                     reports when (svc.ended); FullDuplexCall echoes
//	                     until Recv fails, then waits
//	x-test-mode: sleep   UnaryCall waits for its context to end (route
//	                     timeout tests)
//	x-test-mode: stall   StreamingOutputCall sends x-stall-after messages,
//	                     then waits for its context to end
//	x-pause-ms: N        StreamingInputCall stops reading for N ms after
//	                     the first message (backpressure)
//
// Normal calls set header metadata (x-srv-header, x-multi twice,
// x-echo-client-md echoing the client's x-client-md) and trailer metadata
// (x-srv-trailer, binary x-srv-trailer-bin). A request's ResponseStatus makes
// the handler fail with that code and message (after the requested messages,
// for StreamingOutputCall), with trailer metadata but, for UnaryCall, no
// header metadata, so grpc-go answers trailers-only.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

const (
	mdMode       = "x-test-mode"
	mdStallAfter = "x-stall-after"
	mdPauseMS    = "x-pause-ms"
	mdClient     = "x-client-md"

	// handlerWaitLimit bounds how long a blocking handler waits for its
	// context; a handler that hits it reports Err == nil.
	handlerWaitLimit = 30 * time.Second
)

// grpcTrailerBin is the value of the binary trailer x-srv-trailer-bin.
var grpcTrailerBin = string([]byte{0x00, 0x01, 0xfe, 0xff, 'z'})

// grpcPayload is n deterministic bytes for seed.
func grpcPayload(seed, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 12345
	for i := range b {
		x = x*1103515245 + 12345
		b[i] = byte(x >> 16)
	}
	return b
}

// handlerEnd is what a blocking handler saw: when its context ended and why.
type handlerEnd struct {
	Method  string
	At      time.Time
	Err     error // ctx.Err(); nil if handlerWaitLimit passed first
	RecvErr error // FullDuplexCall: the Recv error that preceded the wait
}

type grpcCall struct {
	Method string
	MD     metadata.MD
}

// grpcService implements grpc_testing.TestService; see the file comment.
type grpcService struct {
	testgrpc.UnimplementedTestServiceServer
	mu    sync.Mutex
	calls []grpcCall
	ended chan handlerEnd
}

func (s *grpcService) record(ctx context.Context, method string) (string, metadata.MD) {
	md, _ := metadata.FromIncomingContext(ctx)
	md = md.Copy()
	s.mu.Lock()
	s.calls = append(s.calls, grpcCall{Method: method, MD: md})
	s.mu.Unlock()
	return first(md, mdMode), md
}

// callWith returns the incoming metadata of the call whose x-client-md was
// id (nil if none).
func (s *grpcService) callWith(id string) metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if first(c.MD, mdClient) == id {
			return c.MD
		}
	}
	return nil
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// waitEnd blocks until ctx ends (or handlerWaitLimit) and reports it.
func (s *grpcService) waitEnd(ctx context.Context, method string, recvErr error) error {
	e := handlerEnd{Method: method, RecvErr: recvErr}
	select {
	case <-ctx.Done():
		e.Err = ctx.Err()
	case <-time.After(handlerWaitLimit):
	}
	e.At = time.Now()
	select {
	case s.ended <- e:
	default:
	}
	if e.Err == nil {
		return status.Error(codes.Aborted, "test handler wait limit passed")
	}
	return status.FromContextError(e.Err).Err()
}

func serverHeaderMD(in metadata.MD) metadata.MD {
	md := metadata.Pairs("x-srv-header", "hdr-value", "x-multi", "a", "x-multi", "b")
	if v := in.Get(mdClient); len(v) > 0 {
		md.Set("x-echo-client-md", v...)
	}
	return md
}

func serverTrailerMD() metadata.MD {
	return metadata.Pairs("x-srv-trailer", "trl-value", "x-srv-trailer-bin", grpcTrailerBin)
}

func (s *grpcService) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	mode, in := s.record(ctx, "UnaryCall")
	if mode == "block" || mode == "sleep" {
		return nil, s.waitEnd(ctx, "UnaryCall", nil)
	}
	if st := req.GetResponseStatus(); st != nil && st.GetCode() != 0 {
		grpc.SetTrailer(ctx, serverTrailerMD())
		return nil, status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	grpc.SetHeader(ctx, serverHeaderMD(in))
	grpc.SetTrailer(ctx, serverTrailerMD())
	body := append(bytes.Clone(req.GetPayload().GetBody()), grpcPayload(7, int(req.GetResponseSize()))...)
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: body}}, nil
}

func (s *grpcService) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	mode, in := s.record(ctx, "StreamingOutputCall")
	grpc.SetHeader(ctx, serverHeaderMD(in))
	grpc.SetTrailer(ctx, serverTrailerMD())
	stallAfter := -1
	if mode == "stall" {
		n, err := strconv.Atoi(first(in, mdStallAfter))
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "bad %s: %v", mdStallAfter, err)
		}
		stallAfter = n
	}
	for i, p := range req.GetResponseParameters() {
		if i == stallAfter {
			return s.waitEnd(ctx, "StreamingOutputCall", nil)
		}
		if p.GetIntervalUs() > 0 {
			time.Sleep(time.Duration(p.GetIntervalUs()) * time.Microsecond)
		}
		msg := &testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: grpcPayload(i, int(p.GetSize()))}}
		if err := stream.Send(msg); err != nil {
			return err
		}
	}
	if stallAfter >= 0 {
		return s.waitEnd(ctx, "StreamingOutputCall", nil)
	}
	if st := req.GetResponseStatus(); st != nil && st.GetCode() != 0 {
		return status.Error(codes.Code(st.GetCode()), st.GetMessage())
	}
	return nil
}

func (s *grpcService) StreamingInputCall(stream grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	ctx := stream.Context()
	_, in := s.record(ctx, "StreamingInputCall")
	var pause time.Duration
	if v := first(in, mdPauseMS); v != "" {
		ms, err := strconv.Atoi(v)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "bad %s: %v", mdPauseMS, err)
		}
		pause = time.Duration(ms) * time.Millisecond
	}
	h := sha256.New()
	total, n := 0, 0
	for {
		req, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if n == 0 && pause > 0 {
			time.Sleep(pause)
		}
		body := req.GetPayload().GetBody()
		h.Write(body)
		total += len(body)
		n++
	}
	grpc.SetHeader(ctx, serverHeaderMD(in))
	tr := serverTrailerMD()
	tr.Set("x-sha256", hex.EncodeToString(h.Sum(nil)))
	tr.Set("x-count", strconv.Itoa(n))
	grpc.SetTrailer(ctx, tr)
	return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: int32(total)})
}

func (s *grpcService) FullDuplexCall(stream grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	ctx := stream.Context()
	mode, in := s.record(ctx, "FullDuplexCall")
	grpc.SetHeader(ctx, serverHeaderMD(in))
	grpc.SetTrailer(ctx, serverTrailerMD())
	for {
		req, err := stream.Recv()
		if err != nil {
			if mode == "block" {
				// An io.EOF here means the request was half-closed, not
				// reset: the context ends only if the stream is reset.
				return s.waitEnd(ctx, "FullDuplexCall", err)
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
		size := 0
		if ps := req.GetResponseParameters(); len(ps) > 0 {
			size = int(ps[0].GetSize())
		}
		body := append(bytes.Clone(req.GetPayload().GetBody()), grpcPayload(size, size)...)
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: &testgrpc.Payload{Body: body}}); err != nil {
			if mode == "block" {
				return s.waitEnd(ctx, "FullDuplexCall", err)
			}
			return err
		}
	}
}

// trackingListener remembers every accepted connection so a test can reset
// them all (the upstream "dies").
type trackingListener struct {
	net.Listener
	mu    sync.Mutex
	conns []net.Conn
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.mu.Lock()
		l.conns = append(l.conns, c)
		l.mu.Unlock()
	}
	return c, err
}

// resetAll closes every accepted connection with SO_LINGER 0 (RST) and
// returns how many there were.
func (l *trackingListener) resetAll() int {
	l.mu.Lock()
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for _, c := range conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	}
	return len(conns)
}

// grpcUpstream is a grpc-go server running grpcService.
type grpcUpstream struct {
	Addr string
	Svc  *grpcService
	ln   *trackingListener
}

func startGRPCUpstream(t testing.TB, opts ...grpc.ServerOption) *grpcUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := &trackingListener{Listener: ln}
	svc := &grpcService{ended: make(chan handlerEnd, 64)}
	srv := grpc.NewServer(opts...)
	testgrpc.RegisterTestServiceServer(srv, svc)
	go srv.Serve(tl)
	t.Cleanup(srv.Stop)
	return &grpcUpstream{Addr: ln.Addr().String(), Svc: svc, ln: tl}
}

// waitHandlerEnd waits up to limit for a blocking handler of method to
// report that its context ended.
func (u *grpcUpstream) waitHandlerEnd(t testing.TB, method string, limit time.Duration) {
	t.Helper()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		select {
		case e := <-u.Svc.ended:
			if e.Method != method {
				continue
			}
			if e.Err == nil {
				t.Fatalf("server %s: context never ended (waited %v)", method, handlerWaitLimit)
			}
			t.Logf("server %s: context ended (%v; preceding Recv error: %v)", method, e.Err, e.RecvErr)
			return
		case <-timer.C:
			t.Fatalf("server %s: context not cancelled within %v of the client's error: moe did not end the upstream stream", method, limit)
		}
	}
}

// dialGRPC is a grpc-go client connection to addr (moe), plaintext h2c.
func dialGRPC(t testing.TB, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)
	cc, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient %s: %v", addr, err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// callCtx is a context with a deadline (grpc-go sends it as grpc-timeout)
// carrying x-client-md and the given metadata pairs.
func callCtx(t testing.TB, limit time.Duration, clientID string, kv ...string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return metadata.AppendToOutgoingContext(ctx, append([]string{mdClient, clientID}, kv...)...)
}

// grpcYAML: one h2c-capable listener {{listen}} with the filters block (may
// be empty; already indented under the listener) and routes (default:
// prefix / to cluster up), cluster up (h2c) at {{up}}, plus extra clusters.
func grpcYAML(filters, routes, extraClusters string) string {
	if routes == "" {
		routes = `      - name: grpc
        match: {prefix: /}
        cluster: up
`
	}
	if filters != "" {
		filters = "    filters:\n" + strings.TrimRight(filters, "\n") + "\n"
	}
	return yamlMain + fmt.Sprintf(`    http2: true
%s    routes:
%s
clusters:
  - name: up
    protocol: h2c
    endpoints: ["{{up}}"]
    connect_timeout: 1s
%s`, filters, strings.TrimRight(routes, "\n"), extraClusters)
}

// checkMD asserts md[key] is exactly want.
func checkMD(t testing.TB, what string, md metadata.MD, key string, want ...string) {
	t.Helper()
	got := md.Get(key)
	if len(got) != len(want) {
		t.Errorf("%s %s = %q, want %q (all: %v)", what, key, got, want, md)
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s %s = %q, want %q (all: %v)", what, key, got, want, md)
			return
		}
	}
}

// checkServerHeader asserts the header metadata a normal call sets.
func checkServerHeader(t testing.TB, hdr metadata.MD, clientID string) {
	t.Helper()
	checkMD(t, "header metadata", hdr, "x-srv-header", "hdr-value")
	checkMD(t, "header metadata", hdr, "x-multi", "a", "b")
	checkMD(t, "header metadata", hdr, "x-echo-client-md", clientID)
}

// checkServerTrailer asserts the trailer metadata every call sets.
func checkServerTrailer(t testing.TB, trl metadata.MD) {
	t.Helper()
	checkMD(t, "trailer metadata", trl, "x-srv-trailer", "trl-value")
	checkMD(t, "trailer metadata", trl, "x-srv-trailer-bin", grpcTrailerBin)
}

// checkStatus asserts err is a gRPC status with code (and message, unless
// msg is "").
func checkStatus(t testing.TB, what string, err error, code codes.Code, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, code)
	}
	st, ok := status.FromError(err)
	if !ok {
		t.Fatalf("%s: error %v is not a gRPC status, want %v", what, err, code)
	}
	if st.Code() != code {
		t.Fatalf("%s: code %v (message %q), want %v", what, st.Code(), st.Message(), code)
	}
	if msg != "" && st.Message() != msg {
		t.Fatalf("%s: message %q, want %q", what, st.Message(), msg)
	}
}

// ---------------------------------------------------------------------------
// raw HTTP/2 (h2c prior knowledge) client, for wire-level checks

func h2cHTTPClient(limit time.Duration) *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Timeout: limit, Transport: &http.Transport{Proxy: nil, Protocols: p}}
}

// grpcFrame is one length-prefixed gRPC message (uncompressed).
func grpcFrame(m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		panic(err)
	}
	out := make([]byte, 5+len(b))
	binary.BigEndian.PutUint32(out[1:5], uint32(len(b)))
	copy(out[5:], b)
	return out
}

// readGRPCFrame reads one length-prefixed message from r.
func readGRPCFrame(r io.Reader) ([]byte, error) {
	var h [5]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	if h[0] != 0 {
		return nil, fmt.Errorf("compressed flag %d", h[0])
	}
	n := binary.BigEndian.Uint32(h[1:])
	if n > 64<<20 {
		return nil, fmt.Errorf("message length %d", n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, fmt.Errorf("message body: %w", err)
	}
	return b, nil
}

// rawGRPCRequest POSTs a gRPC request (content-type application/grpc,
// te: trailers, the given header pairs) over h2c to http://addr+path.
func rawGRPCRequest(t testing.TB, c *http.Client, addr, path string, body []byte, hdr ...string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("h2c POST %s: %v", path, err)
	}
	if resp.ProtoMajor != 2 {
		resp.Body.Close()
		t.Fatalf("h2c POST %s: answered over %s, want HTTP/2", path, resp.Proto)
	}
	return resp
}

// checkGRPCLocalReply asserts a gRPC-shaped local reply: HTTP 200,
// content-type application/grpc, trailers-only (grpc-status and a
// grpc-message in the one header block, no body, no trailers) with
// grpc-status wantCode.
func checkGRPCLocalReply(t testing.TB, resp *http.Response, wantCode codes.Code) {
	t.Helper()
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode != 200 || !strings.HasPrefix(ct, "application/grpc") {
		t.Fatalf("HTTP %d content-type %q body %q: want a gRPC-shaped reply (HTTP 200, application/grpc, grpc-status %d)",
			resp.StatusCode, ct, truncate(body, 200), int(wantCode))
	}
	gs, ok := resp.Header["Grpc-Status"]
	if !ok {
		t.Fatalf("no grpc-status in the response headers (trailers: %v): want a trailers-only reply with grpc-status %d",
			resp.Trailer, int(wantCode))
	}
	if len(gs) != 1 || gs[0] != strconv.Itoa(int(wantCode)) {
		t.Fatalf("grpc-status %q (grpc-message %q), want %d (%v)", gs, resp.Header.Get("Grpc-Message"), int(wantCode), wantCode)
	}
	if msg := resp.Header.Get("Grpc-Message"); msg == "" {
		t.Errorf("no grpc-message (want moe's reason text)")
	} else if dec, err := decodeGRPCMessage(msg); err != nil {
		t.Errorf("grpc-message %q is not percent-encoded as gRPC requires: %v", msg, err)
	} else {
		t.Logf("grpc-status %s grpc-message %q (decoded %q)", gs[0], msg, dec)
	}
	if len(body) != 0 {
		t.Errorf("trailers-only reply has a %d-byte body %q", len(body), truncate(body, 200))
	}
	if len(resp.Trailer) != 0 {
		t.Errorf("trailers-only reply has trailers %v", resp.Trailer)
	}
}

// decodeGRPCMessage checks the grpc-message encoding of the gRPC HTTP/2
// protocol (bytes 0x20-0x7E as is, except '%'; everything else %XX of the
// UTF-8 bytes) and returns the decoded text, which must be UTF-8.
func decodeGRPCMessage(s string) (string, error) {
	var out []byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return "", fmt.Errorf("truncated escape at byte %d", i)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return "", fmt.Errorf("bad escape %q at byte %d", s[i:i+3], i)
			}
			out = append(out, byte(v))
			i += 2
		case c < 0x20 || c > 0x7e:
			return "", fmt.Errorf("unencoded byte 0x%02x at byte %d", c, i)
		default:
			out = append(out, c)
		}
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("decodes to invalid UTF-8 %q", out)
	}
	return string(out), nil
}

var errNoDeadline = errors.New("test bound passed")

// cancelAfter is a context without a deadline (so grpc-go sends no
// grpc-timeout) that is cancelled after limit, bounding the wait.
func cancelAfter(t testing.TB, limit time.Duration) context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	timer := time.AfterFunc(limit, func() { cancel(errNoDeadline) })
	t.Cleanup(func() { timer.Stop(); cancel(nil) })
	return ctx
}
