// Command grpcserver is the gRPC peer of the moe benchmark suite (bench/run,
// scenario grpc-unary): grpc-go's interop TestService
// (google.golang.org/grpc/interop/grpc_testing, the generated stubs shipped
// in the grpc module, so no protoc step) over plain h2c, with EmptyCall and
// UnaryCall implemented. UnaryCall answers a payload of the requested
// response_size (zero bytes, COMPRESSABLE); nothing is logged per call.
//
// The same binary has two helper modes for bench/run:
//
//	-write-request FILE   write one gRPC length-prefixed request message
//	                      (1 byte compressed flag 0, 4 bytes big-endian
//	                      length, the protobuf bytes) for h2load -d FILE:
//	                      a SimpleRequest{response_size, payload} for
//	                      -method UnaryCall, an Empty for EmptyCall
//	-check ADDR           make -n calls with grpc-go over h2c to ADDR (the
//	                      server itself, or moe in front of it) and exit 0
//	                      only if every one ended with grpc-status 0 (OK)
//	                      and the expected payload; prints one line with the
//	                      response header metadata keys (x-request-id shows
//	                      that moe's traceid filter ran)
//
// bench/run runs the server with GOMAXPROCS=1, pinned to the load CPU like
// the HTTP upstream.
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// maxResponse bounds response_size; bodies are slices of one zeroed buffer
// (proto.Marshal only reads them), so a call allocates no payload.
const maxResponse = 4 << 20

var zeros = make([]byte, maxResponse)

type service struct {
	testgrpc.UnimplementedTestServiceServer
}

func (service) EmptyCall(context.Context, *testgrpc.Empty) (*testgrpc.Empty, error) {
	return &testgrpc.Empty{}, nil
}

func (service) UnaryCall(_ context.Context, in *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	n := int(in.GetResponseSize())
	if n < 0 || n > maxResponse {
		return nil, status.Errorf(codes.InvalidArgument, "response_size %d not in [0, %d]", n, maxResponse)
	}
	return &testgrpc.SimpleResponse{
		Payload: &testgrpc.Payload{Type: testgrpc.PayloadType_COMPRESSABLE, Body: zeros[:n]},
	}, nil
}

func simpleRequest(reqSize, respSize int) *testgrpc.SimpleRequest {
	body := make([]byte, reqSize)
	for i := range body {
		body[i] = byte('a' + i%26)
	}
	return &testgrpc.SimpleRequest{
		ResponseType: testgrpc.PayloadType_COMPRESSABLE,
		ResponseSize: int32(respSize),
		Payload:      &testgrpc.Payload{Type: testgrpc.PayloadType_COMPRESSABLE, Body: body},
	}
}

func writeRequest(file, method string, reqSize, respSize int) error {
	var msg proto.Message
	switch method {
	case "UnaryCall":
		msg = simpleRequest(reqSize, respSize)
	case "EmptyCall":
		msg = &testgrpc.Empty{}
	default:
		return fmt.Errorf("-method %q: want UnaryCall or EmptyCall", method)
	}
	b, err := proto.Marshal(msg)
	if err != nil {
		return err
	}
	framed := make([]byte, 5+len(b))
	framed[0] = 0 // not compressed
	binary.BigEndian.PutUint32(framed[1:5], uint32(len(b)))
	copy(framed[5:], b)
	if err := os.WriteFile(file, framed, 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %s, %d bytes (5-byte prefix + %d bytes of protobuf)\n",
		file, method, len(framed), len(b))
	return nil
}

func check(addr, method string, n, reqSize, respSize int, limit time.Duration) error {
	cc, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return err
	}
	defer cc.Close()
	client := testgrpc.NewTestServiceClient(cc)
	req := simpleRequest(reqSize, respSize)
	var header metadata.MD
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), limit)
		var hdr metadata.MD
		switch method {
		case "UnaryCall":
			resp, err := client.UnaryCall(ctx, req, grpc.Header(&hdr))
			if err == nil && len(resp.GetPayload().GetBody()) != respSize {
				err = fmt.Errorf("payload of %d bytes, want %d", len(resp.GetPayload().GetBody()), respSize)
			}
			if err != nil {
				cancel()
				return fmt.Errorf("call %d of %d: UnaryCall: %v (grpc-status %d)", i+1, n, err, status.Code(err))
			}
		case "EmptyCall":
			if _, err := client.EmptyCall(ctx, &testgrpc.Empty{}, grpc.Header(&hdr)); err != nil {
				cancel()
				return fmt.Errorf("call %d of %d: EmptyCall: %v (grpc-status %d)", i+1, n, err, status.Code(err))
			}
		default:
			cancel()
			return fmt.Errorf("-method %q: want UnaryCall or EmptyCall", method)
		}
		cancel()
		header = hdr
	}
	keys := make([]string, 0, len(header))
	for k := range header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	what := "empty responses"
	if method == "UnaryCall" {
		what = fmt.Sprintf("%d-byte payloads", respSize)
	}
	fmt.Printf("OK %d %s calls to %s: grpc-status 0 (OK) each, %s; response header metadata keys: %s\n",
		n, method, addr, what, strings.Join(keys, ","))
	return nil
}

func main() {
	listen := flag.String("listen", "", "serve the TestService over h2c on this address")
	writeReq := flag.String("write-request", "", "write one length-prefixed request message to this file and exit")
	checkAddr := flag.String("check", "", "make -n calls to this address with grpc-go and exit 0 if all are OK")
	method := flag.String("method", "UnaryCall", "UnaryCall or EmptyCall (-write-request, -check)")
	reqSize := flag.Int("request-size", 64, "SimpleRequest payload bytes (-write-request, -check)")
	respSize := flag.Int("response-size", 64, "SimpleRequest response_size (-write-request, -check)")
	n := flag.Int("n", 1, "calls (-check)")
	limit := flag.Duration("timeout", 2*time.Second, "deadline per call (-check)")
	flag.Parse()

	switch {
	case *writeReq != "":
		if err := writeRequest(*writeReq, *method, *reqSize, *respSize); err != nil {
			log.Fatal(err)
		}
	case *checkAddr != "":
		if err := check(*checkAddr, *method, *n, *reqSize, *respSize, *limit); err != nil {
			fmt.Println("FAIL", err)
			os.Exit(1)
		}
	case *listen != "":
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			log.Fatal(err)
		}
		s := grpc.NewServer()
		testgrpc.RegisterTestServiceServer(s, service{})
		log.Printf("grpcserver: TestService (EmptyCall, UnaryCall) over h2c on %s, GOMAXPROCS=%d",
			ln.Addr(), runtime.GOMAXPROCS(0))
		log.Fatal(s.Serve(ln))
	default:
		fmt.Fprintln(os.Stderr, "usage: grpcserver -listen ADDR | -write-request FILE | -check ADDR (see -h)")
		os.Exit(2)
	}
}
