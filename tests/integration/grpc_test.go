package integration

// gRPC end to end: a grpc-go client dials moe (h2c listener), moe proxies to
// a grpc-go server in the test process over an h2c cluster. The harness is
// in grpc_harness_test.go.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
)

// grpcErrMessage has spaces, a percent sign and non-ASCII text: grpc-go
// percent-encodes it into grpc-message, moe must pass it through untouched.
const grpcErrMessage = "thing 42 not found: 100% gone ü"

// TestGRPCAllCallKinds: unary, server streaming, client streaming and bidi
// calls through moe (h2c downstream, h2c upstream), payloads intact, header
// and trailer metadata intact (multi-valued and binary too), error statuses
// with their exact code and message, from a trailers-only response and from
// trailers after data. No Go filter: runs on every build.
func TestGRPCAllCallKinds(t *testing.T) {
	t.Parallel()
	up := startGRPCUpstream(t)
	m := startMoe(t, grpcYAML("", "", ""), "up", up.Addr)
	c := testgrpc.NewTestServiceClient(dialGRPC(t, m.Addr("listen")))
	runGRPCCallKinds(t, c)
}

func runGRPCCallKinds(t *testing.T, c testgrpc.TestServiceClient) {
	t.Run("unary", func(t *testing.T) {
		ctx := callCtx(t, 20*time.Second, "unary-1")
		var hdr, trl metadata.MD
		resp, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{
			ResponseSize: 1000,
			Payload:      &testgrpc.Payload{Body: []byte("hello moe")},
		}, grpc.Header(&hdr), grpc.Trailer(&trl))
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		want := append([]byte("hello moe"), grpcPayload(7, 1000)...)
		if !bytes.Equal(resp.GetPayload().GetBody(), want) {
			t.Fatalf("UnaryCall payload: %d bytes, want %d (content differs)", len(resp.GetPayload().GetBody()), len(want))
		}
		checkServerHeader(t, hdr, "unary-1")
		checkServerTrailer(t, trl)
	})

	t.Run("unary_error_trailers_only", func(t *testing.T) {
		ctx := callCtx(t, 20*time.Second, "unary-err")
		var trl metadata.MD
		_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: grpcErrMessage},
		}, grpc.Trailer(&trl))
		checkStatus(t, "UnaryCall", err, codes.NotFound, grpcErrMessage)
		checkServerTrailer(t, trl)
	})

	t.Run("server_streaming_100", func(t *testing.T) {
		const n = 100
		ctx := callCtx(t, 30*time.Second, "sstream-1")
		req := &testgrpc.StreamingOutputCallRequest{}
		for i := 0; i < n; i++ {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: int32(i * 53 % 5000)})
		}
		s, err := c.StreamingOutputCall(ctx, req)
		if err != nil {
			t.Fatalf("StreamingOutputCall: %v", err)
		}
		for i := 0; i < n; i++ {
			r, err := s.Recv()
			if err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
			if want := grpcPayload(i, i*53%5000); !bytes.Equal(r.GetPayload().GetBody(), want) {
				t.Fatalf("message %d: %d bytes, want %d (content differs)", i, len(r.GetPayload().GetBody()), len(want))
			}
		}
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("Recv after %d messages: %v, want io.EOF", n, err)
		}
		hdr, err := s.Header()
		if err != nil {
			t.Fatalf("Header: %v", err)
		}
		checkServerHeader(t, hdr, "sstream-1")
		checkServerTrailer(t, s.Trailer())
	})

	t.Run("server_streaming_error_after_data", func(t *testing.T) {
		ctx := callCtx(t, 20*time.Second, "sstream-err")
		req := &testgrpc.StreamingOutputCallRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: grpcErrMessage},
		}
		for i := 0; i < 3; i++ {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: 100})
		}
		s, err := c.StreamingOutputCall(ctx, req)
		if err != nil {
			t.Fatalf("StreamingOutputCall: %v", err)
		}
		for i := 0; i < 3; i++ {
			if _, err := s.Recv(); err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
		}
		_, err = s.Recv()
		checkStatus(t, "Recv after the messages", err, codes.NotFound, grpcErrMessage)
		hdr, _ := s.Header()
		checkServerHeader(t, hdr, "sstream-err")
		checkServerTrailer(t, s.Trailer())
	})

	t.Run("client_streaming_100", func(t *testing.T) {
		const n = 100
		ctx := callCtx(t, 30*time.Second, "cstream-1")
		s, err := c.StreamingInputCall(ctx)
		if err != nil {
			t.Fatalf("StreamingInputCall: %v", err)
		}
		h := sha256.New()
		total := 0
		for i := 0; i < n; i++ {
			body := grpcPayload(1000+i, i*37%4096+1)
			h.Write(body)
			total += len(body)
			if err := s.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: body}}); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		resp, err := s.CloseAndRecv()
		if err != nil {
			t.Fatalf("CloseAndRecv: %v", err)
		}
		if int(resp.GetAggregatedPayloadSize()) != total {
			t.Fatalf("server summed %d bytes, want %d", resp.GetAggregatedPayloadSize(), total)
		}
		trl := s.Trailer()
		checkMD(t, "trailer metadata", trl, "x-sha256", hex.EncodeToString(h.Sum(nil)))
		checkMD(t, "trailer metadata", trl, "x-count", strconv.Itoa(n))
		checkServerTrailer(t, trl)
		hdr, _ := s.Header()
		checkServerHeader(t, hdr, "cstream-1")
	})

	t.Run("bidi_ping_pong_50", func(t *testing.T) {
		const n = 50
		ctx := callCtx(t, 30*time.Second, "bidi-1")
		s, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatalf("FullDuplexCall: %v", err)
		}
		for i := 0; i < n; i++ {
			ping := []byte(fmt.Sprintf("ping-%d", i))
			if err := s.Send(&testgrpc.StreamingOutputCallRequest{
				Payload:            &testgrpc.Payload{Body: ping},
				ResponseParameters: []*testgrpc.ResponseParameters{{Size: int32(i * 10)}},
			}); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
			r, err := s.Recv()
			if err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
			if want := append(ping, grpcPayload(i*10, i*10)...); !bytes.Equal(r.GetPayload().GetBody(), want) {
				t.Fatalf("pong %d: %d bytes, want %d (content differs)", i, len(r.GetPayload().GetBody()), len(want))
			}
		}
		if err := s.CloseSend(); err != nil {
			t.Fatalf("CloseSend: %v", err)
		}
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("Recv after CloseSend: %v, want io.EOF", err)
		}
		hdr, _ := s.Header()
		checkServerHeader(t, hdr, "bidi-1")
		checkServerTrailer(t, s.Trailer())
	})
}

// TestGRPCGoHeadersFilterMetadata: the headers Go filter on the listener adds
// request metadata the server sees and response header metadata the client
// sees; payloads, the server's own metadata, trailers and error statuses
// still come through the filter chain intact.
func TestGRPCGoHeadersFilterMetadata(t *testing.T) {
	t.Parallel()
	requireGo(t)
	up := startGRPCUpstream(t)
	m := startMoe(t, grpcYAML(`      - name: headers
        config:
          request_add: {x-moe-filter: "on"}
          response_add: {x-moe-resp: "added"}`, "", ""), "up", up.Addr)
	c := testgrpc.NewTestServiceClient(dialGRPC(t, m.Addr("listen")))

	t.Run("unary", func(t *testing.T) {
		ctx := callCtx(t, 20*time.Second, "filter-unary")
		var hdr, trl metadata.MD
		resp, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{
			ResponseSize: 300,
			Payload:      &testgrpc.Payload{Body: []byte("through the filter")},
		}, grpc.Header(&hdr), grpc.Trailer(&trl))
		if err != nil {
			t.Fatalf("UnaryCall: %v", err)
		}
		if want := append([]byte("through the filter"), grpcPayload(7, 300)...); !bytes.Equal(resp.GetPayload().GetBody(), want) {
			t.Fatalf("payload: %d bytes, want %d (content differs)", len(resp.GetPayload().GetBody()), len(want))
		}
		seen := up.Svc.callWith("filter-unary")
		if seen == nil {
			t.Fatal("the server recorded no call with x-client-md filter-unary")
		}
		checkMD(t, "server-side request metadata", seen, "x-moe-filter", "on")
		checkMD(t, "header metadata", hdr, "x-moe-resp", "added")
		checkServerHeader(t, hdr, "filter-unary")
		checkServerTrailer(t, trl)
	})

	t.Run("server_streaming_error_after_data", func(t *testing.T) {
		ctx := callCtx(t, 20*time.Second, "filter-sstream")
		req := &testgrpc.StreamingOutputCallRequest{
			ResponseStatus: &testgrpc.EchoStatus{Code: int32(codes.NotFound), Message: grpcErrMessage},
		}
		for i := 0; i < 10; i++ {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: int32(1000 * i)})
		}
		s, err := c.StreamingOutputCall(ctx, req)
		if err != nil {
			t.Fatalf("StreamingOutputCall: %v", err)
		}
		for i := 0; i < 10; i++ {
			r, err := s.Recv()
			if err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
			if want := grpcPayload(i, 1000*i); !bytes.Equal(r.GetPayload().GetBody(), want) {
				t.Fatalf("message %d: %d bytes, want %d (content differs)", i, len(r.GetPayload().GetBody()), len(want))
			}
		}
		_, err = s.Recv()
		checkStatus(t, "Recv after the messages", err, codes.NotFound, grpcErrMessage)
		seen := up.Svc.callWith("filter-sstream")
		if seen == nil {
			t.Fatal("the server recorded no call with x-client-md filter-sstream")
		}
		checkMD(t, "server-side request metadata", seen, "x-moe-filter", "on")
		hdr, _ := s.Header()
		checkMD(t, "header metadata", hdr, "x-moe-resp", "added")
		checkServerHeader(t, hdr, "filter-sstream")
		checkServerTrailer(t, s.Trailer())
	})

	t.Run("bidi_ping_pong", func(t *testing.T) {
		ctx := callCtx(t, 20*time.Second, "filter-bidi")
		s, err := c.FullDuplexCall(ctx)
		if err != nil {
			t.Fatalf("FullDuplexCall: %v", err)
		}
		for i := 0; i < 10; i++ {
			ping := []byte(fmt.Sprintf("ping-%d", i))
			if err := s.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: ping}}); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
			r, err := s.Recv()
			if err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
			if !bytes.Equal(r.GetPayload().GetBody(), ping) {
				t.Fatalf("pong %d: %q, want %q", i, r.GetPayload().GetBody(), ping)
			}
		}
		s.CloseSend()
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("Recv after CloseSend: %v, want io.EOF", err)
		}
		hdr, _ := s.Header()
		checkMD(t, "header metadata", hdr, "x-moe-resp", "added")
		checkServerTrailer(t, s.Trailer())
	})
}

// TestGRPCClientDeadlinePropagated: a 300 ms client deadline on a unary call
// whose handler blocks until its context ends: the client gets
// DEADLINE_EXCEEDED promptly and the server's context ends too (moe passed
// on grpc-timeout and/or the client's RST_STREAM).
func TestGRPCClientDeadlinePropagated(t *testing.T) {
	t.Parallel()
	up := startGRPCUpstream(t)
	m := startMoe(t, grpcYAML("", "", ""), "up", up.Addr)
	c := testgrpc.NewTestServiceClient(dialGRPC(t, m.Addr("listen")))

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, mdMode, "block", mdClient, "deadline")
	start := time.Now()
	_, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{})
	took := time.Since(start)
	checkStatus(t, "UnaryCall with a 300ms deadline", err, codes.DeadlineExceeded, "")
	if took >= 2*time.Second {
		t.Fatalf("DEADLINE_EXCEEDED after %v, want it within 2s of a 300ms deadline", took)
	}
	up.waitHandlerEnd(t, "UnaryCall", 2*time.Second)
	if up.Svc.callWith("deadline") == nil {
		t.Fatal("the call never reached the server")
	}
}

// TestGRPCClientCancelPropagated: the client cancels a bidi stream after a
// few round trips: the client sees CANCELLED and the server's handler sees
// its context end (moe reset the upstream stream, not just half-closed it).
func TestGRPCClientCancelPropagated(t *testing.T) {
	t.Parallel()
	up := startGRPCUpstream(t)
	m := startMoe(t, grpcYAML("", "", ""), "up", up.Addr)
	c := testgrpc.NewTestServiceClient(dialGRPC(t, m.Addr("listen")))

	bound := cancelAfter(t, 20*time.Second)
	ctx, cancel := context.WithCancel(bound)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, mdMode, "block", mdClient, "cancel")
	s, err := c.FullDuplexCall(ctx)
	if err != nil {
		t.Fatalf("FullDuplexCall: %v", err)
	}
	for i := 0; i < 5; i++ {
		if err := s.Send(&testgrpc.StreamingOutputCallRequest{Payload: &testgrpc.Payload{Body: []byte("x")}}); err != nil {
			t.Fatalf("Send %d: %v", i, err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("Recv %d: %v", i, err)
		}
	}
	cancel()
	_, err = s.Recv()
	checkStatus(t, "Recv after cancel", err, codes.Canceled, "")
	up.waitHandlerEnd(t, "FullDuplexCall", 2*time.Second)
}

// TestGRPCLargeMessages8MiB: 8 messages of 8 MiB each way (server streaming
// and client streaming), checked by sha256, with the receiver stalling for
// 1 s after the first message and 1 MiB flow-control windows on the grpc-go
// ends, so moe must apply backpressure: moe's VmHWM grows by less than
// 64 MiB (a whole direction is 64 MiB). Not parallel (memory measurement).
func TestGRPCLargeMessages8MiB(t *testing.T) {
	const (
		msgSize = 8 << 20
		count   = 8
		maxMsg  = 16 << 20
		window  = 1 << 20
	)
	// In the ASan build freed memory sits in ASan's quarantine (256 MiB by
	// default) before reuse, so VmHWM would count every buffer moe freed,
	// not what it holds: this moe gets no quarantine (later ASAN_OPTIONS
	// entries win; other builds ignore the variable). The test is not
	// parallel, so no other test's moe inherits it.
	asanOpts := "quarantine_size_mb=0"
	if v := os.Getenv("ASAN_OPTIONS"); v != "" {
		asanOpts = v + ":" + asanOpts
	}
	t.Setenv("ASAN_OPTIONS", asanOpts)
	up := startGRPCUpstream(t, grpc.MaxRecvMsgSize(maxMsg), grpc.MaxSendMsgSize(maxMsg),
		grpc.InitialWindowSize(window), grpc.InitialConnWindowSize(window))
	m := startMoe(t, grpcYAML("", "", ""), "up", up.Addr)
	c := testgrpc.NewTestServiceClient(dialGRPC(t, m.Addr("listen"),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxMsg), grpc.MaxCallSendMsgSize(maxMsg)),
		grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window)))

	// Warm up: connections, pools, first-use allocations.
	for i := 0; i < 3; i++ {
		if _, err := c.UnaryCall(callCtx(t, 20*time.Second, "warm"), &testgrpc.SimpleRequest{ResponseSize: 64 << 10}); err != nil {
			t.Fatalf("warm-up UnaryCall: %v", err)
		}
	}
	_, hwm0 := m.RSS()

	t.Run("server_streaming", func(t *testing.T) {
		ctx := callCtx(t, 120*time.Second, "big-down")
		req := &testgrpc.StreamingOutputCallRequest{}
		want := sha256.New()
		for i := 0; i < count; i++ {
			req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: msgSize})
			want.Write(grpcPayload(i, msgSize))
		}
		s, err := c.StreamingOutputCall(ctx, req)
		if err != nil {
			t.Fatalf("StreamingOutputCall: %v", err)
		}
		got := sha256.New()
		for i := 0; i < count; i++ {
			r, err := s.Recv()
			if err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
			if n := len(r.GetPayload().GetBody()); n != msgSize {
				t.Fatalf("message %d: %d bytes, want %d", i, n, msgSize)
			}
			got.Write(r.GetPayload().GetBody())
			if i == 0 {
				time.Sleep(time.Second) // stall: moe must hold back the upstream
			}
		}
		if _, err := s.Recv(); err != io.EOF {
			t.Fatalf("Recv after %d messages: %v, want io.EOF", count, err)
		}
		if g, w := hex.EncodeToString(got.Sum(nil)), hex.EncodeToString(want.Sum(nil)); g != w {
			t.Fatalf("received sha256 %s, want %s", g, w)
		}
	})

	t.Run("client_streaming", func(t *testing.T) {
		ctx := callCtx(t, 120*time.Second, "big-up", mdPauseMS, "1000")
		s, err := c.StreamingInputCall(ctx)
		if err != nil {
			t.Fatalf("StreamingInputCall: %v", err)
		}
		want := sha256.New()
		for i := 0; i < count; i++ {
			body := grpcPayload(100+i, msgSize)
			want.Write(body)
			if err := s.Send(&testgrpc.StreamingInputCallRequest{Payload: &testgrpc.Payload{Body: body}}); err != nil {
				t.Fatalf("Send %d: %v", i, err)
			}
		}
		resp, err := s.CloseAndRecv()
		if err != nil {
			t.Fatalf("CloseAndRecv: %v", err)
		}
		if int(resp.GetAggregatedPayloadSize()) != count*msgSize {
			t.Fatalf("server summed %d bytes, want %d", resp.GetAggregatedPayloadSize(), count*msgSize)
		}
		checkMD(t, "trailer metadata", s.Trailer(), "x-sha256", hex.EncodeToString(want.Sum(nil)))
	})

	rss, hwm1 := m.RSS()
	t.Logf("moe VmHWM %d MiB -> %d MiB, VmRSS now %d MiB", hwm0>>20, hwm1>>20, rss>>20)
	if hwm1-hwm0 >= maxHWMGrowth {
		t.Fatalf("moe VmHWM grew by %d MiB while %d MiB went each way (limit %d MiB): messages are buffered, not streamed",
			(hwm1-hwm0)>>20, count*msgSize>>20, maxHWMGrowth>>20)
	}
}

// TestGRPCUpstreamDiesMidStream: the server sends 3 messages of a server
// stream, then its TCP connection to moe is reset. The client gets the 3
// messages and then UNAVAILABLE: moe ends the stream with trailers
// grpc-status 14 (checked on the wire too: a clean end of the body with
// that trailer, not a stream reset). A new call afterwards succeeds.
func TestGRPCUpstreamDiesMidStream(t *testing.T) {
	t.Parallel()
	up := startGRPCUpstream(t)
	m := startMoe(t, grpcYAML("", "", ""), "up", up.Addr)
	c := testgrpc.NewTestServiceClient(dialGRPC(t, m.Addr("listen")))
	req := &testgrpc.StreamingOutputCallRequest{}
	for i := 0; i < 10; i++ {
		req.ResponseParameters = append(req.ResponseParameters, &testgrpc.ResponseParameters{Size: 100})
	}
	const stallAfter = 3

	t.Run("grpc_go_client", func(t *testing.T) {
		ctx := callCtx(t, 10*time.Second, "dies", mdMode, "stall", mdStallAfter, strconv.Itoa(stallAfter))
		s, err := c.StreamingOutputCall(ctx, req)
		if err != nil {
			t.Fatalf("StreamingOutputCall: %v", err)
		}
		for i := 0; i < stallAfter; i++ {
			if _, err := s.Recv(); err != nil {
				t.Fatalf("Recv %d: %v", i, err)
			}
		}
		if n := up.ln.resetAll(); n == 0 {
			t.Fatal("the server had no connection to reset")
		}
		_, err = s.Recv()
		checkStatus(t, "Recv after the upstream connection was reset", err, codes.Unavailable, "")
		t.Logf("client status: %v", err)
	})

	t.Run("wire_trailers", func(t *testing.T) {
		hc := h2cHTTPClient(10 * time.Second)
		defer hc.CloseIdleConnections()
		resp := rawGRPCRequest(t, hc, m.Addr("listen"), "/grpc.testing.TestService/StreamingOutputCall", grpcFrame(req),
			mdMode, "stall", mdStallAfter, strconv.Itoa(stallAfter))
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("HTTP %d, want 200", resp.StatusCode)
		}
		for i := 0; i < stallAfter; i++ {
			if _, err := readGRPCFrame(resp.Body); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
		}
		if n := up.ln.resetAll(); n == 0 {
			t.Fatal("the server had no connection to reset")
		}
		rest, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("after the upstream reset the response body ended with %v (%d more bytes): want a clean end with trailers grpc-status 14", err, len(rest))
		}
		if gs := resp.Trailer.Get("Grpc-Status"); gs != "14" {
			t.Fatalf("trailers %v: grpc-status %q, want 14 (UNAVAILABLE)", resp.Trailer, gs)
		}
		t.Logf("trailers: %v", resp.Trailer)
	})

	// Whatever the subtests above saw, moe must still serve new calls
	// (on a new upstream connection).
	t.Run("new_call_succeeds", func(t *testing.T) {
		resp, err := c.UnaryCall(callCtx(t, 10*time.Second, "after"), &testgrpc.SimpleRequest{ResponseSize: 10})
		if err != nil {
			t.Fatalf("a new UnaryCall after the upstream died: %v", err)
		}
		if !bytes.Equal(resp.GetPayload().GetBody(), grpcPayload(7, 10)) {
			t.Fatalf("a new UnaryCall after the upstream died: payload %x", resp.GetPayload().GetBody())
		}
	})
}

// TestGRPCLocalRepliesBeforeResponse: upstream failures and moe's own
// replies before any response reach a gRPC client as gRPC statuses, sent
// gRPC-shaped (HTTP 200, application/grpc, trailers-only grpc-status and
// grpc-message): connect refused → UNAVAILABLE, route timeout →
// DEADLINE_EXCEEDED, no route → UNIMPLEMENTED, direct_response 403 →
// PERMISSION_DENIED. Each case with grpc-go and on the wire, where the
// grpc-message must be percent-encoded as gRPC requires (the 403 body has a
// '%' and non-ASCII text).
func TestGRPCLocalRepliesBeforeResponse(t *testing.T) {
	t.Parallel()
	up := startGRPCUpstream(t)
	m := startMoe(t, grpcYAML("", `      - name: deny
        match: {path: /grpc.testing.TestService/EmptyCall}
        direct_response: {status: 403, body: "denied by policy: 100% sure, ü"}
      - name: slow
        match:
          prefix: /grpc.testing.TestService/
          headers: [{name: x-test-mode, exact: sleep}]
        cluster: up
        timeout: 300ms
      - name: down
        match:
          prefix: /grpc.testing.TestService/
          headers: [{name: x-target, exact: down}]
        cluster: down
      - name: svc
        match: {prefix: /grpc.testing.TestService/}
        cluster: up
`, `  - name: down
    protocol: h2c
    endpoints: ["{{down}}"]
    connect_timeout: 1s
`), "up", up.Addr, "down", closedPort(t))
	cc := dialGRPC(t, m.Addr("listen"))
	c := testgrpc.NewTestServiceClient(cc)
	hc := h2cHTTPClient(15 * time.Second)
	t.Cleanup(hc.CloseIdleConnections)
	const unaryPath = "/grpc.testing.TestService/UnaryCall"
	emptyUnary := grpcFrame(&testgrpc.SimpleRequest{})

	t.Run("control_ok", func(t *testing.T) {
		if _, err := c.UnaryCall(callCtx(t, 10*time.Second, "control"), &testgrpc.SimpleRequest{}); err != nil {
			t.Fatalf("UnaryCall through route svc: %v", err)
		}
	})

	cases := []struct {
		name   string
		code   codes.Code
		path   string
		md     []string
		invoke func(ctx context.Context) error
	}{
		{"connect_refused", codes.Unavailable, unaryPath, []string{"x-target", "down"},
			func(ctx context.Context) error { _, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{}); return err }},
		{"route_timeout", codes.DeadlineExceeded, unaryPath, []string{mdMode, "sleep"},
			func(ctx context.Context) error { _, err := c.UnaryCall(ctx, &testgrpc.SimpleRequest{}); return err }},
		{"no_route", codes.Unimplemented, "/other.Service/Method", nil,
			func(ctx context.Context) error {
				return cc.Invoke(ctx, "/other.Service/Method", &testgrpc.Empty{}, &testgrpc.Empty{})
			}},
		{"direct_response_403", codes.PermissionDenied, "/grpc.testing.TestService/EmptyCall", nil,
			func(ctx context.Context) error { _, err := c.EmptyCall(ctx, &testgrpc.Empty{}); return err }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			t.Run("grpc_go", func(t *testing.T) {
				// No deadline (no grpc-timeout): the route timeout must be
				// what ends route_timeout; cancelAfter only bounds the wait.
				ctx := metadata.AppendToOutgoingContext(cancelAfter(t, 10*time.Second), tc.md...)
				err := tc.invoke(ctx)
				checkStatus(t, tc.name, err, tc.code, "")
				t.Logf("client status: %v", err)
			})
			t.Run("wire", func(t *testing.T) {
				body := emptyUnary
				if tc.path != unaryPath {
					body = grpcFrame(&testgrpc.Empty{})
				}
				resp := rawGRPCRequest(t, hc, m.Addr("listen"), tc.path, body, tc.md...)
				checkGRPCLocalReply(t, resp, tc.code)
			})
		})
	}
}

// TestGRPCGoFilterLocalReply: a Go filter's SendLocalReply to a gRPC call
// reaches the client as a gRPC status (moe shapes it: HTTP 403 ->
// PERMISSION_DENIED, the body as grpc-message); calls the filter lets
// through are served. The filter comes from the test plugin.
func TestGRPCGoFilterLocalReply(t *testing.T) {
	t.Parallel()
	requireGo(t)
	p := testPlugins(t)
	up := startGRPCUpstream(t)
	m := startMoe(t, goYAMLPlugins(p.TestFilters)+grpcYAML(`      - name: test_reply
        config: {status: 403, body: "denied by a Go filter"}`, "", ""), "up", up.Addr)
	c := testgrpc.NewTestServiceClient(dialGRPC(t, m.Addr("listen")))
	if _, err := c.UnaryCall(callCtx(t, 10*time.Second, "go-reply-ok"), &testgrpc.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall without x-deny: %v", err)
	}
	_, err := c.UnaryCall(callCtx(t, 10*time.Second, "go-reply-deny", "x-deny", "1"), &testgrpc.SimpleRequest{})
	checkStatus(t, "UnaryCall with x-deny", err, codes.PermissionDenied, "denied by a Go filter")
	if up.Svc.callWith("go-reply-deny") != nil {
		t.Fatal("the denied call reached the server")
	}
}
