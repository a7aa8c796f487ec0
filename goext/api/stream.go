package api

import (
	"context"
	"fmt"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"moe/goext/internal/abi"
	"moe/goext/internal/host"
)

// Stream is one filter's handle on one HTTP stream (request + response).
// It is valid from the first hook until OnDone returns; moe may reuse it for a
// later stream afterwards, so don't keep it beyond that.
type Stream struct {
	st  *streamState
	idx int // this filter's position in the chain
}

// StreamInfo holds read-only facts about a stream. Its strings are views
// valid for the stream.
type StreamInfo struct {
	Listener       string // the listener's name
	Route          string // the route's name; "" when no route matched
	Cluster        string // "" for a direct response
	Worker         int    // the moe worker thread
	DownstreamAddr string // the client's IP address
	UpstreamAddr   string // the upstream endpoint ("10.0.0.5:8080"); "" until one is picked
	Protocol       string // "HTTP/1.1", "HTTP/2"
	RequestID      string // the request's x-request-id ("" when absent; see the traceid filter)
	StartTime      time.Time
}

// Info returns the stream's facts (never nil).
func (s *Stream) Info() *StreamInfo {
	st := s.st
	if !st.infoSet && st.rawInfo != nil {
		r := st.rawInfo
		st.info = StreamInfo{
			Listener:       abi.String(r.Listener, r.ListenerLen),
			Route:          abi.String(r.Route, r.RouteLen),
			Cluster:        abi.String(r.Cluster, r.ClusterLen),
			Worker:         int(r.Worker),
			DownstreamAddr: abi.String(r.DownstreamAddr, r.DownstreamAddrLen),
			Protocol:       abi.String(r.Protocol, r.ProtocolLen),
			UpstreamAddr:   abi.String(r.UpstreamAddr, r.UpstreamAddrLen),
			RequestID:      abi.String(r.RequestID, r.RequestIDLen),
			StartTime:      time.Unix(0, r.StartUnixNs),
		}
		st.infoSet = true
	}
	return &st.info
}

// FilterName is the registered name of the filter holding this handle.
func (s *Stream) FilterName() string {
	if s.st.chain == nil {
		return ""
	}
	return s.st.chain.filters[s.idx].name
}

// Get returns a per-stream value set by any filter of the stream.
func (s *Stream) Get(key string) (string, bool) {
	v, ok := s.st.kv[key]
	return v, ok
}

// Set stores a per-stream value, seen by the later filters (Get). Keys
// that the config's log.access_log_values lists are written on the stream's
// access-log line (the last value set wins; values set in OnDone come too
// late). Call it in hooks (or a ResumeWith function) only.
func (s *Stream) Set(key, value string) {
	st := s.st
	if st.probe {
		return
	}
	if st.kv == nil {
		st.kv = make(map[string]string, 4)
	}
	st.kv[key] = value
	st.emit(abi.OpKVSet, abi.TargetStream, key, value)
}

// CopyString returns a copy of b as a string in memory the stream's Go
// state owns: like the strings moe hands out, use it in this stream's hooks
// only. The state ends after the stream's last hook (for a chain without
// OnDone and body hooks, its last headers hook), and its bytes are then
// reused by a later stream: the string changes. Never keep it past that (a
// map key, a cache, a goroutine): use string(b) or strings.Clone for that.
// It saves the heap allocation of string(b) per request, e.g. for a value
// made in a stack buffer and passed to Header.Set. Call it in hooks (or a
// ResumeWith function) only.
func (s *Stream) CopyString(b []byte) string {
	st := s.st
	if st.probe || len(b) == 0 {
		return string(b)
	}
	if cap(st.strs)-len(st.strs) < len(b) {
		// A new block; the strings in the old one stay valid (the GC keeps
		// it while they are referenced). The state keeps the larger block
		// for its later streams.
		st.strs = make([]byte, 0, max(256, 2*cap(st.strs), len(b)))
	}
	n := len(st.strs)
	st.strs = append(st.strs, b...)
	return unsafe.String(&st.strs[n], len(b))
}

// HeaderAction says how a field from AddResponseHeader joins the fields the
// response already has.
type HeaderAction uint8

const (
	// AddIfAbsent adds the field only when the response has none of that
	// name: the upstream's own value wins.
	AddIfAbsent HeaderAction = iota
	// Append adds the field after any of that name.
	Append
	// Overwrite replaces every field of that name.
	Overwrite
)

// AddResponseHeader asks moe to put name: value on this stream's final
// response, the upstream's or a local reply (moe's own, or a filter's), as
// soon as moe has its head and before any OnResponseHeaders hook sees it.
// A filter that only decorates the response with what it learnt from the
// request (a request id, a trace context, CORS headers) then needs no
// response hook; and a chain with no response hooks lets responses take
// moe's path without Go: one event per request instead of two
// (docs/go-filters.md, "What a filter costs"). Call it in a request hook or
// a ResumeWith function; once the response has arrived it does nothing. An
// invalid name or value, or a field about framing or the connection
// (content-length, transfer-encoding, connection, upgrade...), is logged
// and ignored.
func (s *Stream) AddResponseHeader(name, value string, action HeaderAction) {
	st := s.st
	if st.probe || st.haveResp {
		return
	}
	n := st.checkedField(name, value)
	if n == "" {
		return
	}
	if framingName(n) {
		st.logf(LevelError, "AddResponseHeader(%q): moe frames the response itself; ignored", n)
		return
	}
	code := uint8(abi.OpAddIfAbsent)
	switch action {
	case Append:
		code = abi.OpAdd
	case Overwrite:
		code = abi.OpSet
	}
	st.emit(code, abi.TargetLaterResponseHeaders, n, value)
}

// framingName: fields that say how the message is framed or are about the
// connection (hop by hop). moe sets them on a response itself, after the
// hooks, for the client's protocol; a field added ahead of the response
// must not contradict them.
func framingName(n string) bool {
	switch n {
	case "content-length", "transfer-encoding", "connection", "keep-alive",
		"proxy-connection", "te", "trailer", "upgrade":
		return true
	}
	return false
}

// RequestHeaders returns the stream's request headers as they are now: with
// every change made by filters so far and by moe itself (hop-by-hop headers
// removed, x-forwarded-for...). Usable in every hook, OnDone and ResumeWith
// functions, even when no filter of the chain has an OnRequestHeaders hook;
// never nil there. Changing them after the request-headers event has no
// effect on the request sent upstream.
func (s *Stream) RequestHeaders() *RequestHeaders {
	if !s.st.haveReq {
		return nil
	}
	return &s.st.reqHeaders
}

// ResponseHeaders returns the response headers, or nil before they arrived.
func (s *Stream) ResponseHeaders() *ResponseHeaders {
	if !s.st.haveResp {
		return nil
	}
	return &s.st.respHeaders
}

// Resume continues the chain after this filter, which returned Pending.
// Any goroutine. A stream that ended or timed out meanwhile ignores it, as
// does a second call.
func (s *Stream) Resume() { s.st.requestResume(s.idx, nil, nil) }

// ResumeWith is Resume, but first runs fn on the worker thread, where it may
// change headers, body and per-stream values like a hook. Use it to apply
// the result of the goroutine's work. fn is dropped if the stream ended.
func (s *Stream) ResumeWith(fn func()) { s.st.requestResume(s.idx, fn, nil) }

// SendLocalReply ends the stream with this response instead of the
// upstream's. From a hook, return LocalReply after it; after Pending, call it
// from the goroutine instead of Resume. headers are [name, value] pairs.
//
// For a gRPC request over HTTP/2 (content-type application/grpc*), moe
// shapes a reply with status 300 or more (src/proxy/grpc.cc): HTTP 200,
// the request's gRPC content-type, grpc-status mapped from status
// (400/500→13 INTERNAL, 401→16 UNAUTHENTICATED, 403→7 PERMISSION_DENIED,
// 404→12 UNIMPLEMENTED, 408/504→4 DEADLINE_EXCEEDED, 413/431→8
// RESOURCE_EXHAUSTED, 429/502/503→14 UNAVAILABLE, others→2 UNKNOWN),
// grpc-message = body (none when the body is empty), no body. A
// grpc-status among headers is kept as given.
func (s *Stream) SendLocalReply(status int, headers [][2]string, body []byte) {
	if status < 100 || status > 999 {
		status = 500
	}
	s.st.requestResume(s.idx, nil, &localReply{status, headers, body})
}

// Context is cancelled when the stream ends (completed, reset) or when this
// filter's Pending timed out. Pass it to the calls a goroutine makes.
func (s *Stream) Context() context.Context {
	st := s.st
	if st.probe {
		return cancelledCtx
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.ctx == nil {
		st.ctx, st.cancel = context.WithCancel(context.Background())
		st.escaped = true
		if st.done {
			st.cancel()
		}
	}
	return st.ctx
}

// Go runs fn in a new goroutine that recovers panics: a panic fails the
// stream like a panic in a hook (500, or a plain resume when the filter is
// fail_open) and is counted and logged. Use it for the work behind Pending.
func (s *Stream) Go(fn func()) {
	if s.st.probe {
		return
	}
	s.st.mu.Lock()
	s.st.escaped = true // never reused: the goroutine holds s
	s.st.mu.Unlock()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				st := s.st
				name := s.FilterName()
				panicsTotal(name).Inc()
				Log(LevelError, fmt.Sprintf("go filter %q panicked in a goroutine: %v\n%s", name, r, debug.Stack()))
				if st.chain != nil && st.chain.filters[s.idx].failOpen {
					s.Resume()
				} else {
					s.SendLocalReply(500, nil, nil)
				}
			}
		}()
		fn()
	}()
}

// Log writes msg to moe's log, prefixed with the filter's name. Any goroutine.
func (s *Stream) Log(level Level, msg string) {
	Log(level, "go filter "+strconv.Quote(s.FilterName())+": "+msg)
}

// Logf is Log with fmt.Sprintf.
func (s *Stream) Logf(level Level, format string, args ...any) {
	s.Log(level, fmt.Sprintf(format, args...))
}

var cancelledCtx = func() context.Context {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	return c
}()

type localReply struct {
	status  int
	headers [][2]string
	body    []byte
}

// cursor says where the chain is in the current event.
type cursor struct {
	kind     uint32 // the event kind (abi.Ev*)
	stage    uint32 // which hooks run: an abi.Ev* kind of the same direction
	next     int    // the next filter
	end      bool   // endStream of the event
	thenBody bool   // a buffered body: after the headers stage, run the body stage from 0
	reply    bool   // a reply moe makes (MOE_EVF_REPLY): statuses other than Continue are ignored
}

type bufState struct {
	active bool
	stage  uint32
	idx    int
}

// streamState is Go's per-stream state; only its worker touches it, except
// the fields under mu (async completion).
type streamState struct {
	// The fields a headers event touches come first, in the fewest cache
	// lines (each crossing starts with cold caches: the kernel's network
	// work runs between events); what only Info, bodies, trailers or async
	// filters use comes after.
	w           *workerTable
	chain       *chain
	filters     []Filter
	handles     []Stream
	ops         *abi.Ops // set during a crossing
	rawInfo     *abi.StreamInfo
	handle      uint64
	c           cursor // where the chain is
	cur         int    // the filter running now (-1: none)
	repliedBy   int    // 1 + the filter that made a local reply on the request side (0: none)
	created     int    // filters made so far (NewFilter)
	afterResume func() // a ResumeWith function to run before going on
	kv          map[string]string
	strs        []byte // CopyString's block, emptied when the state is reused
	// lastView is a header value known valid for the rest of this call: the
	// last one Lookup returned from moe's arrays (moe checked it) or the
	// last one checkedField scanned (Go strings do not change; a filter
	// that aliases mutable bytes with unsafe is on its own). Set/Add of it
	// need no scan. Reset at each call: moe's memory of an ended stream is
	// reused.
	lastView string
	// goodName is the last valid lower-case header name a Header method
	// was given in this call: it needs no second scan (Header.key).
	goodName string
	reqBuf   bufState
	respBuf  bufState
	slot     uint32
	signal   atomic.Uint32 // nonzero: requestResume or a timeout happened
	probe    bool
	infoSet  bool
	haveReq  bool
	haveResp bool
	creating bool // inside NewFilter
	escaped  bool // a goroutine may hold it: never reuse (written on the worker, or under mu while waiting)
	done     bool // under mu once escaped

	reqHeaders   RequestHeaders
	respHeaders  ResponseHeaders
	reqTrailers  Header
	respTrailers Header
	reqBody      Body
	respBody     Body
	info         StreamInfo

	mu sync.Mutex
	// under mu:
	waiting   bool // PENDING was returned to C++ for filter pend
	pend      int
	pendSeq   uint64
	resumeReq bool // implies signal != 0
	resumeFn  func()
	reply     *localReply
	timedOut  bool
	timer     *time.Timer
	ctx       context.Context
	cancel    context.CancelFunc
}

func (st *streamState) requestResume(idx int, fn func(), r *localReply) {
	if st.probe {
		return
	}
	st.mu.Lock()
	if st.done || st.resumeReq || (st.waiting && st.pend != idx) {
		st.mu.Unlock()
		return
	}
	st.resumeReq, st.resumeFn, st.reply = true, fn, r
	st.signal.Store(1)
	post := st.waiting
	h := st.handle
	st.mu.Unlock()
	if post {
		host.Current.PostResume(h)
	}
}

func (st *streamState) onTimeout(seq uint64) {
	st.mu.Lock()
	if st.done || !st.waiting || st.resumeReq || st.pendSeq != seq {
		st.mu.Unlock()
		return
	}
	st.resumeReq, st.timedOut = true, true
	st.signal.Store(1)
	h := st.handle
	cancel := st.cancel
	st.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	host.Current.PostResume(h)
}

// emit appends an op to the crossing's op buffer.
func (st *streamState) emit(code, target uint8, a, b string) {
	ops := st.ops
	if ops == nil {
		if !st.probe {
			st.logf(LevelError, "a change (op %d) was made outside a hook and is ignored", code)
		}
		return
	}
	need := uint64(ops.Len) + abi.OpHeadLen + uint64(len(a)) + uint64(len(b))
	if need > 1<<31 {
		st.logf(LevelError, "op too large (%d bytes), ignored", need)
		return
	}
	if uint32(need) > ops.Cap || ops.Buf == nil {
		host.Current.OpsGrow(ops, uint32(need))
		if uint32(need) > ops.Cap || ops.Buf == nil {
			st.logf(LevelError, "moe_ops_grow failed (%d bytes), op dropped", need)
			return
		}
	}
	buf := abi.Bytes(ops.Buf, ops.Cap)[ops.Len:need]
	abi.PutHead(buf, code, target, uint32(len(a)), uint32(len(b)))
	copy(buf[abi.OpHeadLen:], a)
	copy(buf[abi.OpHeadLen+len(a):], b)
	ops.Len = uint32(need)
}

func (st *streamState) logf(level Level, format string, args ...any) {
	name := "?"
	if st.chain != nil && st.cur >= 0 && st.cur < len(st.chain.filters) {
		name = st.chain.filters[st.cur].name
	}
	Log(level, "go filter "+strconv.Quote(name)+": "+fmt.Sprintf(format, args...))
}
