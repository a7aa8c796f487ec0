// Package filtertest runs moe Go filter chains in plain `go test`, with no
// proxy. A chain is built from the same JSON moe hands the bridge, events are
// the same C-shaped structs (in Go memory), the engine is the same, and the
// ops the chain returns are applied the way moe applies them, so a test sees
// the request that would go upstream, the response that would go to the
// client, or the local reply.
//
//	c := filtertest.MustChain(t, filtertest.Filter{Name: "traceid"})
//	s := c.NewStream(t)
//	st := s.RequestHeaders("GET", "/", filtertest.Headers{{"host", "a"}}, true)
//	// st == api.Continue; s.Request.Headers.Get("x-request-id") != ""
//
// Like moe, it skips the events no filter of the chain handles, buffers after
// StopAndBuffer, waits for Resume/SendLocalReply after Pending (up to
// Stream.AsyncTimeout), and passes the request headers as they are now on
// every call. To catch views kept too long, it overwrites each body chunk
// after its event, each moe_header array after its call (moe's arrays move
// when it edits a header list), and every header string after Done.
//
// A test may edit Stream.Request.Headers (or Response.Headers) between events
// to stand for moe's own changes (hop-by-hop headers removed,
// x-forwarded-for added...): the next call sees them.
package filtertest

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"moe/goext/api"
	"moe/goext/internal/abi"
	"moe/goext/internal/host"
)

func init() {
	if host.Current == nil {
		host.Current = testEnv{}
	}
}

// Filter is one entry of a chain, as in moe.yaml.
type Filter struct {
	Name      string
	Config    any    // marshalled to JSON; a string or json.RawMessage is used as JSON text
	TimeoutMs int64  // 0 = default (5s)
	OnError   string // "", "fail_closed", "fail_open"
}

// Chain is a built filter chain.
type Chain struct {
	id     uint32
	events uint32
}

var nextChain atomic.Uint32

func init() { nextChain.Store(1 << 30) }

// NewChain builds a chain from filters.
func NewChain(filters ...Filter) (*Chain, error) {
	type spec struct {
		Name      string          `json:"name"`
		Config    json.RawMessage `json:"config,omitempty"`
		TimeoutMs int64           `json:"timeout_ms,omitempty"`
		OnError   string          `json:"on_error,omitempty"`
	}
	specs := make([]spec, 0, len(filters))
	for _, f := range filters {
		sp := spec{Name: f.Name, TimeoutMs: f.TimeoutMs, OnError: f.OnError}
		switch c := f.Config.(type) {
		case nil:
		case string:
			sp.Config = json.RawMessage(c)
		case json.RawMessage:
			sp.Config = c
		default:
			b, err := json.Marshal(c)
			if err != nil {
				return nil, err
			}
			sp.Config = b
		}
		specs = append(specs, sp)
	}
	b, err := json.Marshal(specs)
	if err != nil {
		return nil, err
	}
	return FromJSON(string(b))
}

// FromJSON builds a chain from moe's chain JSON:
// [{"name":..., "config":..., "timeout_ms":..., "on_error":...}].
func FromJSON(spec string) (*Chain, error) {
	id := nextChain.Add(1)
	ev, err := host.E.CreateChain(id, []byte(spec))
	if err != nil {
		return nil, err
	}
	return &Chain{id: id, events: ev}, nil
}

// MustChain is NewChain that fails the test on error.
func MustChain(t testing.TB, filters ...Filter) *Chain {
	t.Helper()
	c, err := NewChain(filters...)
	if err != nil {
		t.Fatalf("filtertest: %v", err)
	}
	return c
}

// Events is the bitmask moe_go_create_chain reported (1 << MOE_EV_*).
func (c *Chain) Events() uint32 { return c.events }

// Wants tells whether moe would cross into Go for this event kind
// (1 request headers .. 6 response trailers, 7 done).
func (c *Chain) Wants(kind int) bool { return c.events&(1<<kind) != 0 }

// Headers are header fields in order, names lower-case.
type Headers [][2]string

// Get returns the first value of name.
func (h Headers) Get(name string) string {
	name = strings.ToLower(name)
	for _, f := range h {
		if f[0] == name {
			return f[1]
		}
	}
	return ""
}

// Values returns every value of name.
func (h Headers) Values(name string) []string {
	name = strings.ToLower(name)
	var out []string
	for _, f := range h {
		if f[0] == name {
			out = append(out, f[1])
		}
	}
	return out
}

func (h Headers) del(name string) Headers {
	out := h[:0]
	for _, f := range h {
		if f[0] != name {
			out = append(out, f)
		}
	}
	return out
}

// Request is the request as it goes upstream.
type Request struct {
	Method, Path, Scheme string
	Headers              Headers
	Body                 []byte // the forwarded body so far
	Trailers             Headers
}

// Response is the response as it goes to the client.
type Response struct {
	Status   int
	Headers  Headers
	Body     []byte
	Trailers Headers
}

// Reply is a local reply.
type Reply struct {
	Status  int
	Headers Headers
	Body    []byte
}

// Info are the stream facts the filters see (StreamInfo).
type Info struct {
	Listener, Route, Cluster, DownstreamAddr, Protocol string
	StartTime                                          time.Time
}

// Stream is one simulated HTTP stream through a chain.
type Stream struct {
	Info     Info
	Request  Request
	Response Response
	Reply    *Reply // set when the chain answered locally
	// Reset: the chain answered (a local reply, a failure) after the
	// response head had gone to the client. moe cannot send the reply
	// then: it cuts the response (HTTP/1.1: closes the connection; h2:
	// RST_STREAM; gRPC: a grpc-status trailer). Reply holds what the
	// filter asked for; no response hooks ran on it.
	Reset        bool
	KV           map[string]string // per-stream values (MOE_OP_KV_SET)
	Logs         []string          // MOE_OP_LOG messages
	AsyncTimeout time.Duration     // how long to wait for a resume; default 10s
	Ops          []abi.Op          // every op of the last event, decoded (for detailed tests)

	t        testing.TB
	c        *Chain
	worker   uint32
	handle   uint64
	goState  uint64
	rawInfo  *abi.StreamInfo
	keep     [][]byte         // header bytes: alive until Done
	interned map[string]*byte // string -> its bytes in keep (moe's arena)
	resumeCh chan struct{}
	ended    bool
	done     bool
	buf      [2]*[]byte // per direction: buffering after StopAndBuffer
	replyHdr Headers
	headOut  bool // the response head went to the client (its hooks continued)
	// trailersNext: a buffered body is delivered because trailers came;
	// moe sends a held head after their hooks.
	trailersNext bool
	replying     bool     // replyHooks is running
	later        []abi.Op // Stream.AddResponseHeader, for the response head to come
}

var (
	workerMu   sync.Mutex
	freeWorker []uint32
	nextWorker uint32 = 1
	nextHandle atomic.Uint64
	resumers   sync.Map // handle -> chan struct{}
)

// NewStream starts a stream. Each live stream has its own simulated worker,
// so streams may run in parallel tests; Done (also run at test cleanup)
// ends it.
func (c *Chain) NewStream(t testing.TB) *Stream {
	workerMu.Lock()
	var w uint32
	if n := len(freeWorker); n > 0 {
		w = freeWorker[n-1]
		freeWorker = freeWorker[:n-1]
	} else {
		if nextWorker >= 4096 {
			workerMu.Unlock()
			t.Fatalf("filtertest: more than 4095 streams alive; call Done")
		}
		w = nextWorker
		nextWorker++
	}
	workerMu.Unlock()
	s := &Stream{
		t: t, c: c, worker: w,
		handle:   uint64(w)<<48 | nextHandle.Add(1)&(1<<48-1),
		resumeCh: make(chan struct{}, 1),
		KV:       map[string]string{},
		Info: Info{Listener: "test", Route: "test/0", Cluster: "backend", DownstreamAddr: "127.0.0.1",
			Protocol: "HTTP/1.1", StartTime: time.Now()},
		AsyncTimeout: 10 * time.Second,
	}
	resumers.Store(s.handle, s.resumeCh)
	t.Cleanup(func() {
		if !s.done {
			s.Done(0)
		}
	})
	return s
}

// RequestHeaders sends the request headers event. Host goes in headers.
func (s *Stream) RequestHeaders(method, path string, h Headers, endStream bool) api.Status {
	s.Request.Method, s.Request.Path, s.Request.Scheme = method, path, "http"
	s.Request.Headers = lower(h)
	return s.headersEvent(abi.EvRequestHeaders, s.Request.Headers, endStream, 0)
}

// ResponseHeaders sends the response headers event.
func (s *Stream) ResponseHeaders(status int, h Headers, endStream bool) api.Status {
	s.Response.Status = status
	// Fields asked for with AddResponseHeader join a final head before its
	// hooks run, as in moe.
	s.Response.Headers = s.applyLater(lower(h), status)
	st := s.headersEvent(abi.EvResponseHeaders, s.Response.Headers, endStream, status)
	if finalStatus(status) && st != api.StopAndBuffer && st != api.LocalReply {
		s.headOut = true
	}
	return st
}

// RequestTrailers sends the request trailers.
func (s *Stream) RequestTrailers(h Headers) api.Status {
	s.Request.Trailers = lower(h)
	return s.headersEvent(abi.EvRequestTrailers, s.Request.Trailers, true, 0)
}

// ResponseTrailers sends the response trailers.
func (s *Stream) ResponseTrailers(h Headers) api.Status {
	s.Response.Trailers = lower(h)
	return s.headersEvent(abi.EvResponseTrailers, s.Response.Trailers, true, 0)
}

// RequestBody sends a request body chunk.
func (s *Stream) RequestBody(b []byte, endStream bool) api.Status {
	return s.bodyEvent(abi.EvRequestData, 0, b, endStream)
}

// ResponseBody sends a response body chunk.
func (s *Stream) ResponseBody(b []byte, endStream bool) api.Status {
	return s.bodyEvent(abi.EvResponseData, 1, b, endStream)
}

func lower(h Headers) Headers {
	out := make(Headers, len(h))
	for i, f := range h {
		out[i] = [2]string{strings.ToLower(f[0]), f[1]}
	}
	return out
}

func (s *Stream) check() bool {
	s.t.Helper()
	if s.ended || s.done {
		s.t.Errorf("filtertest: event after the stream ended (local reply or Done)")
		return false
	}
	return true
}

func (s *Stream) newEvent(kind uint32, end bool) *abi.Event {
	if s.rawInfo == nil {
		s.rawInfo = &abi.StreamInfo{Worker: s.worker, StartUnixNs: s.Info.StartTime.UnixNano()}
		s.rawInfo.Listener, s.rawInfo.ListenerLen = s.bytes(s.Info.Listener)
		s.rawInfo.Route, s.rawInfo.RouteLen = s.bytes(s.Info.Route)
		s.rawInfo.Cluster, s.rawInfo.ClusterLen = s.bytes(s.Info.Cluster)
		s.rawInfo.DownstreamAddr, s.rawInfo.DownstreamAddrLen = s.bytes(s.Info.DownstreamAddr)
		s.rawInfo.Protocol, s.rawInfo.ProtocolLen = s.bytes(s.Info.Protocol)
	}
	ev := &abi.Event{Handle: s.handle, GoState: s.goState, Chain: s.c.id, Kind: kind, Info: s.rawInfo,
		Ops: &abi.Ops{}}
	if end {
		ev.EndStream = 1
	}
	return ev
}

// bytes copies str into a block kept until Done (once per distinct string,
// like moe's per-stream arena, so views stay stable across calls).
func (s *Stream) bytes(str string) (*byte, uint32) {
	if str == "" {
		return nil, 0
	}
	if p, ok := s.interned[str]; ok {
		return p, uint32(len(str))
	}
	b := []byte(str)
	s.keep = append(s.keep, b)
	if s.interned == nil {
		s.interned = map[string]*byte{}
	}
	s.interned[str] = &b[0]
	return &b[0], uint32(len(b))
}

// headerArray builds a fresh moe_header array for one call.
func (s *Stream) headerArray(h Headers) []abi.Header {
	if len(h) == 0 {
		return nil
	}
	arr := make([]abi.Header, len(h))
	for i, f := range h {
		arr[i].Name, arr[i].NameLen = s.bytes(f[0])
		arr[i].Value, arr[i].ValueLen = s.bytes(f[1])
	}
	return arr
}

func first(arr []abi.Header) (*abi.Header, uint32) {
	if len(arr) == 0 {
		return nil, 0
	}
	return &arr[0], uint32(len(arr))
}

// fill sets what moe sets on every call from the stream as it is now: the
// request headers and line, the status, and the event's own header block,
// in new arrays. It returns the arrays, for poison after the call.
func (s *Stream) fill(ev *abi.Event) [][]abi.Header {
	req := s.headerArray(s.Request.Headers)
	ev.RequestHeaders, ev.RequestHeaderCount = first(req)
	arrays := [][]abi.Header{req}
	var block []abi.Header
	switch ev.Kind {
	case abi.EvRequestHeaders:
		block = req
	case abi.EvRequestTrailers:
		block = s.headerArray(s.Request.Trailers)
	case abi.EvResponseHeaders:
		block = s.headerArray(s.Response.Headers)
	case abi.EvResponseTrailers:
		block = s.headerArray(s.Response.Trailers)
	}
	ev.Headers, ev.HeaderCount = first(block)
	arrays = append(arrays, block)
	ev.Method, ev.MethodLen = s.bytes(s.Request.Method)
	ev.Path, ev.PathLen = s.bytes(s.Request.Path)
	ev.Scheme, ev.SchemeLen = s.bytes(s.Request.Scheme)
	ev.Status = int32(s.Response.Status)
	return arrays
}

// poison overwrites the arrays of a call that returned: a filter (or the
// engine) that kept one reads a header that is not there.
func (s *Stream) poison(arrays [][]abi.Header) {
	var p abi.Header
	p.Name, p.NameLen = s.bytes("filtertest-stale-header-array")
	p.Value, p.ValueLen = s.bytes("stale")
	for _, arr := range arrays {
		for i := range arr {
			arr[i] = p
		}
	}
}

func (s *Stream) headersEvent(kind uint32, _ Headers, end bool, _ int) api.Status {
	s.t.Helper()
	if !s.check() {
		return api.Continue
	}
	if kind == abi.EvRequestTrailers || kind == abi.EvResponseTrailers {
		// Trailers end the body: a body held by StopAndBuffer is
		// delivered first (one body event, endStream true), as moe does.
		dir, data := 0, uint32(abi.EvRequestData)
		if kind == abi.EvResponseTrailers {
			dir, data = 1, abi.EvResponseData
		}
		if s.buf[dir] != nil {
			s.trailersNext = true // a held response head waits for the trailers hooks too
			st := s.bodyEvent(data, dir, nil, true)
			s.trailersNext = false
			if st == api.LocalReply || s.ended {
				return st
			}
		}
	}
	if !s.c.Wants(int(kind)) {
		return api.Continue
	}
	ev := s.newEvent(kind, end) // cross fills the headers (the block is h)
	st := s.cross(ev, nil)
	if st == api.StopAndBuffer {
		dir := 0
		if kind >= abi.EvResponseHeaders {
			dir = 1
		}
		s.buf[dir] = new([]byte)
	}
	return st
}

func (s *Stream) bodyEvent(kind uint32, dir int, b []byte, end bool) api.Status {
	s.t.Helper()
	if !s.check() {
		return api.Continue
	}
	if buf := s.buf[dir]; buf != nil { // buffering: deliver once, at the end
		*buf = append(*buf, b...)
		if !end {
			return api.StopAndBuffer
		}
		s.buf[dir] = nil
		b = *buf
	}
	if !s.c.Wants(int(kind)) {
		s.forward(dir, b)
		return api.Continue
	}
	chunk := append([]byte(nil), b...) // moe's memory for this call
	ev := s.newEvent(kind, end)
	if len(chunk) > 0 {
		ev.Body, ev.BodyLen = &chunk[0], uint32(len(chunk))
	}
	var out []byte
	st := s.cross(ev, &out)
	for i := range chunk { // the view is dead now: make misuse visible
		chunk[i] = 0xAA
	}
	switch st {
	case api.StopAndBuffer:
		s.buf[dir] = &out
	case api.LocalReply:
	default:
		s.forward(dir, out)
		if dir == 1 && !s.trailersNext {
			s.headOut = true // a head held for the body (StopAndBuffer) goes with it
		}
	}
	return st
}

func (s *Stream) forward(dir int, b []byte) {
	if dir == 0 {
		s.Request.Body = append(s.Request.Body, b...)
	} else {
		s.Response.Body = append(s.Response.Body, b...)
	}
}

// cross runs one event (and its resumes) and applies the ops. body, for
// DATA events, receives the chunk after the body ops.
func (s *Stream) cross(ev *abi.Event, body *[]byte) api.Status {
	s.t.Helper()
	if body != nil {
		*body = append([]byte(nil), abi.Bytes(ev.Body, ev.BodyLen)...)
	}
	s.Ops = nil
	arrays := s.fill(ev)
	r := host.E.OnEvent(ev)
	s.poison(arrays)
	s.goState = ev.GoState
	for {
		s.apply(ev, body)
		if r != abi.Pending {
			break
		}
		select {
		case <-s.resumeCh:
		case <-time.After(s.AsyncTimeout):
			s.t.Fatalf("filtertest: no resume within %v after Pending", s.AsyncTimeout)
		}
		ev.Ops = &abi.Ops{}
		ev.GoState = s.goState
		arrays = s.fill(ev) // as moe: the lists now, with the ops applied
		r = host.E.OnResume(ev)
		s.poison(arrays)
	}
	if r == abi.LocalReply {
		if s.headOut {
			s.Reset = true
		} else {
			s.replyHooks()
		}
		s.ended = true
	}
	return api.Status(r)
}

// replyHooks runs the response-headers hooks on a local reply, as moe does
// (Stream::send_reply): one event with the reply as the response; header
// ops apply to the reply, a further reply or Pending is ignored. The
// engine decides which filters it reaches (those the request reached).
func (s *Stream) replyHooks() {
	if s.replying || s.Reply == nil || !s.c.Wants(int(abi.EvResponseHeaders)) {
		return
	}
	s.replying = true
	defer func() { s.replying = false }()
	s.Response.Status = s.Reply.Status
	s.Response.Headers = s.Reply.Headers
	ev := s.newEvent(abi.EvResponseHeaders, len(s.Reply.Body) == 0)
	ev.EndStream |= abi.EvfReply
	s.Ops = nil
	arrays := s.fill(ev)
	host.E.OnEvent(ev)
	s.poison(arrays)
	s.goState = ev.GoState
	s.apply(ev, nil)
	s.Reply.Headers = s.Response.Headers
}

func (s *Stream) apply(ev *abi.Event, body *[]byte) {
	s.t.Helper()
	ops, ok := abi.DecodeOps(abi.Bytes(ev.Ops.Buf, ev.Ops.Len))
	if !ok {
		s.t.Fatalf("filtertest: malformed op buffer")
	}
	s.Ops = append(s.Ops, ops...)
	for _, op := range ops {
		switch op.Target {
		case abi.TargetRequestHeaders:
			s.Request.Headers = s.headerOp(s.Request.Headers, op)
		case abi.TargetResponseHeaders:
			s.Response.Headers = s.headerOp(s.Response.Headers, op)
		case abi.TargetRequestTrailers:
			s.Request.Trailers = s.headerOp(s.Request.Trailers, op)
		case abi.TargetResponseTrailers:
			s.Response.Trailers = s.headerOp(s.Response.Trailers, op)
		case abi.TargetRequestBody, abi.TargetResponseBody:
			if body == nil {
				s.t.Errorf("filtertest: body op %d outside a body event", op.Code)
				continue
			}
			switch op.Code {
			case abi.OpBodyReplace:
				*body = []byte(op.A)
			case abi.OpBodyAppend:
				*body = append(*body, op.A...)
			case abi.OpBodyPrepend:
				*body = append([]byte(op.A), *body...)
			case abi.OpBodyDrain:
				n, _ := strconv.Atoi(op.A)
				*body = (*body)[min(n, len(*body)):]
			}
		case abi.TargetLocalReply:
			switch op.Code {
			case abi.OpAdd:
				s.replyHdr = append(s.replyHdr, [2]string{op.A, op.B})
			case abi.OpLocalReply:
				st, _ := strconv.Atoi(op.A)
				if st < 100 || st > 599 {
					st = 500
				}
				s.Reply = s.shapeReply(st, s.replyHdr, []byte(op.B))
				s.Reply.Headers = s.applyLater(s.Reply.Headers, s.Reply.Status)
				s.replyHdr = nil
			}
		case abi.TargetLaterResponseHeaders:
			// moe ignores them once a final response has started (a 100
			// Continue is not one).
			if !finalStatus(s.Response.Status) {
				s.later = append(s.later, op)
			}
		case abi.TargetStream:
			switch op.Code {
			case abi.OpKVSet:
				s.KV[op.A] = op.B
			case abi.OpLog:
				s.Logs = append(s.Logs, op.B)
			}
		default:
			s.t.Errorf("filtertest: op with unknown target %d", op.Target)
		}
	}
}

// shapeReply makes a filter's local reply the way moe sends it
// (Stream::send_reply): the framing and connection fields are dropped (moe
// frames the reply), a reply with a body and no content-type gets
// text/plain, a HEAD request's reply has no body, and an HTTP/2 gRPC
// request (content-type application/grpc*, Info.Protocol "HTTP/2") with a
// status of 300 or more gets a gRPC status: HTTP 200, content-type
// application/grpc (or the request's grpc-web type), grpc-status mapped
// from the status unless the filter set one, grpc-message from the body,
// and no body.
func (s *Stream) shapeReply(status int, hdr Headers, body []byte) *Reply {
	reqType := s.Request.Headers.Get("content-type")
	grpc := s.Info.Protocol == "HTTP/2" && strings.HasPrefix(reqType, "application/grpc") && status >= 300
	r := &Reply{Status: status}
	hasType, hasGrpcStatus := false, false
	for _, h := range hdr {
		switch h[0] {
		case "content-length", "transfer-encoding", "connection":
			continue
		case "content-type":
			if grpc {
				continue
			}
			hasType = true
		case "grpc-status":
			hasGrpcStatus = true
		}
		r.Headers = append(r.Headers, h)
	}
	if grpc {
		ct := "application/grpc"
		if strings.HasPrefix(reqType, "application/grpc-web") {
			ct = reqType
		}
		r.Headers = append(r.Headers, [2]string{"content-type", ct})
		if !hasGrpcStatus {
			r.Headers = append(r.Headers, [2]string{"grpc-status", strconv.Itoa(grpcStatusForHTTP(status))})
			if len(body) > 0 {
				r.Headers = append(r.Headers, [2]string{"grpc-message", grpcMessage(body)})
			}
		}
		r.Status, body, hasType = 200, nil, true
	}
	if !hasType && len(body) > 0 {
		r.Headers = append(r.Headers, [2]string{"content-type", "text/plain"})
	}
	if s.Request.Method != "HEAD" {
		r.Body = body
	}
	return r
}

// grpcStatusForHTTP is moe's grpc::status_for_http.
func grpcStatusForHTTP(status int) int {
	switch status {
	case 400, 500:
		return 13 // INTERNAL
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 408, 504:
		return 4 // DEADLINE_EXCEEDED
	case 413, 431:
		return 8 // RESOURCE_EXHAUSTED
	case 429, 502, 503:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// grpcMessage is moe's grpc::encode_message: trailing CR/LF dropped,
// bytes outside printable ASCII and '%' percent-encoded.
func grpcMessage(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	var out strings.Builder
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '%' {
			fmt.Fprintf(&out, "%%%02X", c)
		} else {
			out.WriteByte(c)
		}
	}
	return out.String()
}

// applyLater puts the AddResponseHeader fields on a final response head.
func (s *Stream) applyLater(h Headers, status int) Headers {
	if !finalStatus(status) {
		return h // an interim response: the fields wait for the final one
	}
	for _, op := range s.later {
		h = s.headerOp(h, op)
	}
	return h
}

// finalStatus: a response head after which no other comes (101 switches
// protocols; other 1xx are interim).
func finalStatus(status int) bool { return status >= 200 || status == 101 }

func (s *Stream) headerOp(h Headers, op abi.Op) Headers {
	switch op.Code {
	case abi.OpSet:
		h = append(h.del(op.A), [2]string{op.A, op.B})
	case abi.OpAdd:
		h = append(h, [2]string{op.A, op.B})
	case abi.OpAddIfAbsent:
		if len(h.Values(op.A)) == 0 {
			h = append(h, [2]string{op.A, op.B})
		}
	case abi.OpDel:
		h = h.del(op.A)
	case abi.OpSetMethod:
		s.Request.Method = op.A
	case abi.OpSetPath:
		s.Request.Path = op.A
	case abi.OpSetHost:
		h = append(h.del("host"), [2]string{"host", op.A})
	case abi.OpSetStatus:
		s.Response.Status, _ = strconv.Atoi(op.A)
	default:
		s.t.Errorf("filtertest: header op %d unknown", op.Code)
	}
	return h
}

// HoldsGoState says whether Go still keeps state for this stream, so moe
// would make a DONE crossing at its end. A chain without OnDone and without
// body or trailer hooks frees it at its last headers event (docs/go-runtime.md,
// "The last crossing").
func (s *Stream) HoldsGoState() bool { return s.goState != 0 }

// Done ends the stream (finalStatus 0 = reset before a response) and frees
// its simulated worker. Header memory is overwritten afterwards.
func (s *Stream) Done(finalStatus int) {
	if s.done {
		return
	}
	s.done = true
	// As moe: no DONE crossing once Go freed the stream's state.
	if s.c.events != 0 && s.goState != 0 {
		ev := s.newEvent(abi.EvDone, true)
		ev.FinalStatus = int32(finalStatus)
		ev.BytesReceived = uint64(len(s.Request.Body))
		ev.BytesSent = uint64(len(s.Response.Body))
		ev.DurationNs = int64(time.Since(s.Info.StartTime))
		arrays := s.fill(ev)
		host.E.OnEvent(ev)
		s.poison(arrays)
	}
	for _, b := range s.keep {
		for i := range b {
			b[i] = 0xAA
		}
	}
	resumers.Delete(s.handle)
	workerMu.Lock()
	freeWorker = append(freeWorker, s.worker)
	workerMu.Unlock()
}

// LocalReplied reports whether the chain answered locally.
func (s *Stream) LocalReplied() bool { return s.Reply != nil }

var logs struct {
	mu  sync.Mutex
	all []string
}

// Logs returns everything filters wrote with api.Log / Stream.Log so far.
func Logs() []string {
	logs.mu.Lock()
	defer logs.mu.Unlock()
	return append([]string(nil), logs.all...)
}

// testEnv stands in for moe's C functions.
type testEnv struct{}

func (testEnv) OpsGrow(ops *abi.Ops, need uint32) {
	nb := make([]byte, max(need, 2*ops.Cap, 256))
	copy(nb, abi.Bytes(ops.Buf, ops.Len))
	ops.Buf, ops.Cap = &nb[0], uint32(len(nb))
}

func (testEnv) PostResume(handle uint64) {
	if ch, ok := resumers.Load(handle); ok {
		select {
		case ch.(chan struct{}) <- struct{}{}:
		default:
		}
	}
}

func (testEnv) Log(level int32, msg string) {
	logs.mu.Lock()
	logs.all = append(logs.all, fmt.Sprintf("[%d] %s", level, msg))
	logs.mu.Unlock()
}
