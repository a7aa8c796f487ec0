package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"moe/goext/internal/abi"
	"moe/goext/internal/host"
)

// The engine: chains, per-worker stream tables and the loop that runs a
// chain for one event. Reached by the bridge and filtertest through
// internal/host.

func init() {
	host.E = host.Engine{
		CreateChain:   createChain,
		ValidateChain: validateChain,
		OnEvent:       onEvent,
		OnEvents:      onEvents,
		OnResume:      onResume,
		BeginSource:   beginSource,
		EndSource:     endSource,
		RuntimeJSON:   runtimeJSON,
		Metrics:       renderMetrics,
		SecretFields:  secretFields,
	}
}

const defaultTimeout = 5 * time.Second

type chainFilter struct {
	// What run reads per event first, in the filter's first cache line.
	shared   Filter // the filter of a Shared factory: no NewFilter per stream
	hooks    uint32
	failOpen bool
	name     string
	factory  Factory
	timeout  time.Duration
}

type chain struct {
	id      uint32
	filters []chainFilter
	events  uint32
	// lastKinds: event kinds (bits) after which no event the chain's
	// filters asked for can come, so a stream's Go state can go at the end
	// of that crossing instead of in a DONE crossing of its own (lastCall).
	lastKinds uint32
}

var chains struct {
	mu sync.Mutex
	m  atomic.Pointer[map[uint32]*chain]
}

func findChain(id uint32) *chain {
	if m := chains.m.Load(); m != nil {
		return (*m)[id]
	}
	return nil
}

type filterSpec struct {
	Name      string          `json:"name"`
	Config    json.RawMessage `json:"config"`
	TimeoutMs *int64          `json:"timeout_ms"`
	OnError   string          `json:"on_error"`
}

var hookNames = [...]struct {
	name  string
	bit   uint32
	iface string
}{
	{"OnRequestHeaders", bitReqHeaders, "RequestHeadersFilter"},
	{"OnRequestBody", bitReqBody, "RequestBodyFilter"},
	{"OnRequestTrailers", bitReqTrailers, "RequestTrailersFilter"},
	{"OnResponseHeaders", bitRespHeaders, "ResponseHeadersFilter"},
	{"OnResponseBody", bitRespBody, "ResponseBodyFilter"},
	{"OnResponseTrailers", bitRespTrailers, "ResponseTrailersFilter"},
	{"OnDone", bitDone, "DoneFilter"},
}

// createChain builds (or replaces) chain id from its JSON spec.
func createChain(id uint32, spec []byte) (events uint32, err error) {
	c, err := buildChain(id, spec)
	if err != nil {
		return 0, err
	}
	chains.mu.Lock()
	defer chains.mu.Unlock()
	next := map[uint32]*chain{}
	if old := chains.m.Load(); old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[id] = c
	chains.m.Store(&next)
	return c.events, nil
}

// validateChain builds a chain from spec exactly as createChain does (every
// factory runs on its config, every probe NewFilter is called) and then
// discards it: SIGHUP checks a changed file's filter configs this way while
// the running chains keep serving. Discarded factories that implement
// io.Closer are closed.
func validateChain(spec []byte) error {
	c, err := buildChain(0, spec)
	if err != nil {
		return err
	}
	closeFactories(c.filters)
	return nil
}

// closeFactories closes the factories of a chain that will never run.
func closeFactories(fs []chainFilter) {
	for _, cf := range fs {
		if cl, ok := cf.factory.(io.Closer); ok {
			func() {
				defer func() {
					if r := recover(); r != nil {
						Log(LevelError, fmt.Sprintf("filter %q: panic in its factory's Close: %v", cf.name, r))
					}
				}()
				if err := cl.Close(); err != nil {
					Log(LevelWarn, fmt.Sprintf("filter %q: its factory's Close: %v", cf.name, err))
				}
			}()
		}
	}
}

// buildChain runs every filter's factory on its config. On an error the
// factories already built are closed.
func buildChain(id uint32, spec []byte) (_ *chain, err error) {
	c := &chain{id: id} // not the named result: "return nil, err" must not lose it
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic while building the filter chain: %v\n%s", r, debug.Stack())
		}
		if err != nil {
			closeFactories(c.filters)
		}
	}()
	if err := pendingInitErrors(); err != nil {
		return nil, err
	}
	var specs []filterSpec
	dec := json.NewDecoder(bytes.NewReader(spec))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&specs); err != nil {
		return nil, fmt.Errorf("filter chain JSON: %v", err)
	}
	for _, fs := range specs {
		cf, err := buildFilter(fs)
		if err != nil {
			if cf.factory != nil {
				c.filters = append(c.filters, cf) // closed by the defer
			}
			return nil, err
		}
		c.filters = append(c.filters, cf)
		c.events |= cf.hooks
	}
	// With no OnDone and no body or trailer hooks (which may come after
	// either headers event: a gRPC stream's request body runs alongside its
	// response), the last headers event the chain wants is its last event.
	if c.events&^(bitReqHeaders|bitRespHeaders) == 0 {
		if c.events&bitRespHeaders != 0 {
			c.lastKinds = bitRespHeaders
		} else {
			c.lastKinds = bitReqHeaders
		}
	}
	if c.events != 0 {
		c.events |= bitDone
	}
	return c, nil
}

func buildFilter(fs filterSpec) (chainFilter, error) {
	if fs.Name == "" {
		return chainFilter{}, errors.New("a filter has no name")
	}
	cf := chainFilter{name: fs.Name, timeout: defaultTimeout}
	switch fs.OnError {
	case "", "fail_closed":
	case "fail_open":
		cf.failOpen = true
	default:
		return cf, fmt.Errorf("filter %q: on_error must be fail_closed or fail_open, got %q", fs.Name, fs.OnError)
	}
	if fs.TimeoutMs != nil {
		if *fs.TimeoutMs < 0 {
			return cf, fmt.Errorf("filter %q: timeout_ms must be >= 0", fs.Name)
		}
		if *fs.TimeoutMs > 0 {
			cf.timeout = time.Duration(*fs.TimeoutMs) * time.Millisecond
		}
	}
	ff, err := lookup(fs.Name)
	if err != nil {
		return cf, err
	}
	cfg := fs.Config
	if len(cfg) == 0 {
		cfg = json.RawMessage("null")
	}
	if cf.factory, err = ff(cfg); err != nil {
		return cf, fmt.Errorf("filter %q: %v", fs.Name, err)
	}
	if cf.factory == nil {
		return cf, fmt.Errorf("filter %q: the factory returned nil", fs.Name)
	}
	if sf, ok := cf.factory.(sharedFactory); ok {
		cf.shared = sf.f
	}
	probe := &streamState{probe: true, cur: -1}
	f := cf.factory.NewFilter(&Stream{st: probe})
	if f == nil {
		return cf, fmt.Errorf("filter %q: NewFilter returned nil", fs.Name)
	}
	cf.hooks = hooksOf(f)
	t := reflect.TypeOf(f)
	for _, h := range hookNames {
		if _, ok := t.MethodByName(h.name); ok && cf.hooks&h.bit == 0 {
			return cf, fmt.Errorf("filter %q: %v.%s has the wrong signature for api.%s", fs.Name, t, h.name, h.iface)
		}
	}
	if cf.hooks == 0 {
		return cf, fmt.Errorf("filter %q: %v has none of the hook methods (OnRequestHeaders ... OnDone)", fs.Name, t)
	}
	panicsTotal(fs.Name)
	timeoutsTotal(fs.Name)
	return cf, nil
}

// ---- per-worker stream tables ----

const maxWorkers = 1 << 12

type workerTable struct {
	id        uint32
	streams   []*streamState
	free      []uint32
	lastYield uint64        // the worker loop's ms (Event.NowMs) at the last keepP yield
	crossings atomic.Uint64 // calls from C++ (a batch is one)
	// Events beyond one per crossing (a batch of n adds n-1): GET /go's
	// "events" is crossings + extraEvents, so a crossing of one event (a
	// body chunk, a resume) pays one locked add, not two.
	extraEvents atomic.Uint64
	live        atomic.Int64 // stream states in use (GET /go "streams"), stored when it changed
	liveSeen    int64        // the value last stored in live (worker thread only)
	_           [64]byte     // keep workers' counters on separate cache lines
}

var workers [maxWorkers]atomic.Pointer[workerTable]

// keepP lets the worker's callback goroutine go through the scheduler once
// every keepPeriodMs of crossings. A cgo callback never calls schedule(), so its P's
// schedtick never moves; after 10 ms sysmon's retake takes that P away as
// "running too long", every crossing then finds all Ps idle, and each
// return to C wakes sysmon out of its deep sleep (a futex wake, and a
// context switch on a shared CPU): about 2 futex calls per request,
// measured with strace (docs/go-runtime.md). One Gosched every 2 ms
// advances the tick and keeps the P attached between crossings. The clock
// is the worker loop's cached one (Event.NowMs): a clock_gettime per
// crossing was 10% of a crossing's time.
//
// The period: each Gosched of this locked goroutine is a handoff through
// other Ms (stoplockedm, startm, startlockedm: three futex wakeups and
// context switches, measured with perf sched tracepoints), so it should be
// rare; it must stay under sysmon's 10 ms forcePreemptNS so that every
// 10 ms window sysmon looks at contains a tick. The loop clock counts whole
// ms and is read once per loop iteration, so 7 here means 6 to 8 ms and a
// little more after a long iteration: under 10. Against 2 ms, 8 ms cut the
// CPU per request with traceid by ~0.3 µs (docs/go-runtime.md).
const keepPeriodMs = 7

func (w *workerTable) keepP(nowMs uint64) {
	if nowMs-w.lastYield >= keepPeriodMs {
		w.lastYield = nowMs
		runtime.Gosched()
	}
}

func workerOf(handle uint64) *workerTable {
	id := uint32(handle>>48) % maxWorkers
	w := workers[id].Load()
	if w == nil { // only worker id itself gets here for id
		w = &workerTable{id: id}
		workers[id].Store(w)
	}
	return w
}

func (w *workerTable) get(goState uint64) *streamState {
	if goState == 0 || uint32(goState>>32)-1 != w.id {
		return nil
	}
	slot := uint32(goState)
	if int(slot) >= len(w.streams) {
		return nil
	}
	return w.streams[slot]
}

func (w *workerTable) alloc(c *chain, ev *abi.Event) *streamState {
	var st *streamState
	if n := len(w.free); n > 0 {
		slot := w.free[n-1]
		w.free = w.free[:n-1]
		st = w.streams[slot]
		if st == nil {
			st = &streamState{w: w, slot: slot}
			w.streams[slot] = st
		}
	} else {
		st = &streamState{w: w, slot: uint32(len(w.streams))}
		w.streams = append(w.streams, st)
	}
	st.handle, st.chain, st.rawInfo, st.cur = ev.Handle, c, ev.Info, -1
	n := len(c.filters)
	if cap(st.handles) < n {
		// A state is reused only by itself (its slot), so handles made here
		// stay right for every later stream in this state.
		st.handles = make([]Stream, n)
		st.filters = make([]Filter, n)
		for i := range st.handles {
			st.handles[i] = Stream{st: st, idx: i}
		}
	}
	st.handles, st.filters = st.handles[:n], st.filters[:n]
	ev.GoState = uint64(w.id+1)<<32 | uint64(st.slot)
	return st
}

// release frees the slot; the state is reused unless a goroutine may hold it.
func (w *workerTable) release(st *streamState) {
	slot := st.slot
	if st.escaped {
		w.streams[slot] = nil
	} else {
		// Header arrays were dropped (dropViews); the other views (body,
		// info) are not cleared: haveReq/haveResp, infoSet and the next
		// startEvent guard them.
		clear(st.filters)
		if len(st.kv) > 0 {
			clear(st.kv)
		}
		// handle 0: a late event that still names this state (its stream's
		// old go_state) no longer matches it in get's callers, so it cannot
		// release the slot a second time.
		st.handle = 0
		st.chain, st.rawInfo, st.infoSet, st.haveReq, st.haveResp = nil, nil, false, false, false
		st.strs = st.strs[:0]
		st.reqBuf, st.respBuf, st.afterResume, st.created, st.done = bufState{}, bufState{}, nil, 0, false
		st.repliedBy = 0
		// A Resume no hook took (made in NewFilter, say). resumeReq
		// implies signal, so the usual stream neither touches the line of
		// the fields under mu nor pays an atomic store (an XCHG).
		if st.signal.Load() != 0 {
			st.resumeReq, st.resumeFn, st.reply = false, nil, nil
			st.signal.Store(0)
		}
	}
	w.free = append(w.free, slot)
}

// ---- crossings ----

func onEvent(ev *abi.Event) int32 {
	w := workerOf(ev.Handle)
	w.crossings.Add(1)
	w.keepP(ev.NowMs)
	r := handleEvent(w, ev)
	w.storeLive()
	return r
}

// storeLive publishes how many stream states are in use, read by GET /go;
// a state that stays in use after its stream ended on the C++ side would
// be a leak, and tests watch this. Stored only when it changed: an atomic
// store is a locked XCHG on amd64, and most body-chunk crossings neither
// start nor end a stream.
func (w *workerTable) storeLive() {
	if n := int64(len(w.streams) - len(w.free)); n != w.liveSeen {
		w.liveSeen = n
		w.live.Store(n)
	}
}

// onEvents is one crossing for a worker's batch of header events of
// independent streams (moe_go_on_events, docs/go-runtime.md "Batched
// header events"): each is handled as onEvent would, in order, and gets its
// status and the range of its ops in the shared buffer.
func onEvents(evs []abi.Event) {
	if len(evs) == 0 {
		return
	}
	w := workerOf(evs[0].Handle)
	// Counters and keepP once per crossing: a locked add per event was
	// visible in the profile of a batch.
	w.crossings.Add(1)
	w.extraEvents.Add(uint64(len(evs) - 1))
	w.keepP(evs[0].NowMs)
	for i := range evs {
		ev := &evs[i]
		ev.OpsBegin = ev.Ops.Len
		ev.Result = batchedEvent(w, ev)
		ev.OpsEnd = ev.Ops.Len
	}
	w.storeLive()
}

// batchedEvent fails only its own stream if the engine panics (filter
// panics are recovered deeper, per filter): the rest of the batch goes on.
func batchedEvent(w *workerTable, ev *abi.Event) (r int32) {
	defer func() {
		if p := recover(); p != nil {
			panicsTotal("(engine)").Inc()
			Log(LevelError, fmt.Sprintf("go engine: panic in a batched event: %v\n%s", p, debug.Stack()))
			r = failStream(ev, 500, "internal error in the Go filter engine")
		}
	}()
	return handleEvent(w, ev)
}

// handleEvent runs one event; the caller has counted it.
func handleEvent(w *workerTable, ev *abi.Event) int32 {
	st := w.get(ev.GoState)
	if st != nil && st.handle != ev.Handle {
		st = nil // a state id from an ended stream, reused since: not this stream's
	}
	if ev.Kind == abi.EvDone {
		if st != nil {
			st.ops = ev.Ops
			st.bindRequest(ev) // OnDone may read the request headers
			st.finish(ev)
		}
		return abi.Continue
	}
	if st == nil {
		if ev.GoState != 0 {
			Log(LevelError, fmt.Sprintf("go bridge: unknown go_state %#x for stream %#x", ev.GoState, ev.Handle))
			return failStream(ev, 500, "unknown stream")
		}
		c := findChain(ev.Chain)
		if c == nil {
			Log(LevelError, fmt.Sprintf("go bridge: unknown chain %d", ev.Chain))
			return failStream(ev, 500, "unknown filter chain")
		}
		st = w.alloc(c, ev)
	}
	st.ops = ev.Ops
	defer st.endCall()
	st.startEvent(ev)
	r := st.drive()
	st.lastCall(ev, ev.Kind, r)
	return r
}

// lastCall ends the stream's Go state with this crossing when nothing more
// can come for it (chain.lastKinds): the chain continued, no goroutine
// holds the stream, and no filter has OnDone. GoState 0 tells moe to skip
// the DONE crossing: for a chain of header hooks, 2 crossings per request
// instead of 3 (`traceid`, request hook only: 1 instead of 2).
func (st *streamState) lastCall(ev *abi.Event, kind uint32, r int32) {
	if r != abi.Continue || st.escaped || st.chain == nil || st.chain.lastKinds&(1<<kind) == 0 {
		return
	}
	// release wants the views dropped; unlike endCall, the response header
	// list is not copied for later hooks: there are none. A chain with
	// lastKinds has no trailer hooks, so its trailers never held a view.
	st.ops = nil
	st.reqHeaders.raw, st.respHeaders.raw = nil, nil
	st.w.release(st) // resets done; alloc resets cur for the next stream
	ev.GoState = 0
}

func onResume(ev *abi.Event) int32 {
	w := workerOf(ev.Handle)
	w.crossings.Add(1)
	st := w.get(ev.GoState)
	if st == nil || st.handle != ev.Handle {
		return abi.Continue // the stream ended; C++ should not have called
	}
	st.mu.Lock()
	if !st.waiting || !st.resumeReq {
		st.mu.Unlock()
		return abi.Pending
	}
	fn, r, timedOut := st.resumeFn, st.reply, st.timedOut
	st.waiting, st.resumeReq, st.resumeFn, st.reply, st.timedOut = false, false, nil, nil, false
	st.signal.Store(0)
	if st.timer != nil {
		st.timer.Stop()
		st.timer = nil
	}
	st.mu.Unlock()

	st.ops = ev.Ops
	defer st.endCall()
	// moe applied the ops returned with Pending and may have moved its header
	// arrays: rebind every view to this call's (dropping the overlays, which
	// those ops already carried). An unmodified body is a view too.
	st.bindRequest(ev)
	switch st.c.kind {
	case abi.EvResponseHeaders:
		st.respHeaders.reset(st, ev)
	case abi.EvRequestTrailers:
		st.reqTrailers.reset(st, abi.TargetRequestTrailers, abi.Headers(ev.Headers, ev.HeaderCount))
	case abi.EvResponseTrailers:
		st.respTrailers.reset(st, abi.TargetResponseTrailers, abi.Headers(ev.Headers, ev.HeaderCount))
	case abi.EvRequestData:
		if !st.reqBody.modified {
			st.reqBody.view = abi.Bytes(ev.Body, ev.BodyLen)
		}
	case abi.EvResponseData:
		if !st.respBody.modified {
			st.respBody.view = abi.Bytes(ev.Body, ev.BodyLen)
		}
	}
	i := st.c.next
	cf := &st.chain.filters[i]
	if timedOut {
		timeoutsTotal(cf.name).Inc()
		Log(LevelWarn, fmt.Sprintf("go filter %q timed out after %v (%s)", cf.name, cf.timeout, onErr(cf.failOpen)))
		if !cf.failOpen {
			return st.sendReply(&localReply{status: 504, body: []byte("filter " + cf.name + " timed out\n")}, i)
		}
	} else if r != nil {
		return st.sendReply(r, i)
	}
	st.c.next = i + 1
	st.afterResume = fn
	st.cur = i
	return st.drive()
}

func onErr(failOpen bool) string {
	if failOpen {
		return "fail_open: continuing"
	}
	return "fail_closed"
}

// failStream answers a stream Go has no state for.
func failStream(ev *abi.Event, status int, msg string) int32 {
	st := &streamState{ops: ev.Ops, cur: -1}
	return st.sendReply(&localReply{status: status, body: []byte(msg + "\n")}, -1)
}

// startEvent points the stream's views at the event and sets the cursor.
func (st *streamState) startEvent(ev *abi.Event) {
	end := ev.EndStream&abi.EvfEnd != 0
	c := cursor{kind: ev.Kind, stage: ev.Kind, end: end, reply: ev.EndStream&abi.EvfReply != 0}
	st.bindRequest(ev)
	switch ev.Kind {
	case abi.EvResponseHeaders:
		st.respHeaders.reset(st, ev)
		st.haveResp = true
	case abi.EvRequestTrailers:
		st.reqTrailers.reset(st, abi.TargetRequestTrailers, abi.Headers(ev.Headers, ev.HeaderCount))
	case abi.EvResponseTrailers:
		st.respTrailers.reset(st, abi.TargetResponseTrailers, abi.Headers(ev.Headers, ev.HeaderCount))
	case abi.EvRequestData:
		st.reqBody.reset(st, abi.TargetRequestBody, abi.Bytes(ev.Body, ev.BodyLen))
		c = st.reqBuf.resumeCursor(c)
	case abi.EvResponseData:
		st.respBody.reset(st, abi.TargetResponseBody, abi.Bytes(ev.Body, ev.BodyLen))
		c = st.respBuf.resumeCursor(c)
	}
	st.c = c
}

// bindRequest points the request-header view at this call's array: moe
// sends the request headers as they are now on every event (for a
// request-headers event, the event's own block). moe has applied every op of
// the earlier calls, so the overlay of an earlier call is dropped: the array
// is the truth.
func (st *streamState) bindRequest(ev *abi.Event) {
	// Route, cluster, upstream and request id can change between events
	// (filters rewrite the request, the upstream is picked): Info() reads
	// them again after each crossing starts.
	st.infoSet, st.lastView, st.goodName = false, "", ""
	raw := abi.Headers(ev.RequestHeaders, ev.RequestHeaderCount)
	if ev.Kind == abi.EvRequestHeaders {
		raw = abi.Headers(ev.Headers, ev.HeaderCount)
	}
	st.reqHeaders.reset(st, ev, raw, !st.haveReq)
	st.haveReq = true
}

// endCall runs when a crossing returns. moe's header ARRAYS are valid during
// the call only (it edits its lists between calls), so no view of one is
// kept: the request headers are rebound on the next call, the response
// headers (which later calls don't resend) are copied into their overlay
// (the strings stay views: they live for the stream), trailers are dropped.
func (st *streamState) endCall() {
	st.ops = nil
	st.dropViews()
}

func (st *streamState) dropViews() {
	st.reqHeaders.raw = nil
	// The other blocks are bound only in their own event (startEvent,
	// onResume), so only the block of st.c.kind can hold a view: the
	// others' cache lines are left alone.
	switch st.c.kind {
	case abi.EvResponseHeaders:
		if h := &st.respHeaders.Header; h.raw != nil {
			h.materialize()
			h.raw = nil
		}
	case abi.EvRequestTrailers:
		st.reqTrailers.raw = nil
	case abi.EvResponseTrailers:
		st.respTrailers.raw = nil
	}
}

// resumeCursor: the buffered body after a StopAndBuffer continues where the
// chain stopped.
func (b *bufState) resumeCursor(c cursor) cursor {
	if !b.active {
		return c
	}
	b.active = false
	if b.stage == c.kind { // stopped in a body hook: deliver from that filter
		c.next = b.idx
		return c
	}
	c.stage, c.next, c.thenBody = b.stage, b.idx+1, true
	return c
}

// drive runs the chain from st.c, recovering panics filter by filter.
func (st *streamState) drive() int32 {
	for {
		status, panicked := st.runProtected()
		if !panicked {
			return status
		}
		i, creating := st.cur, st.creating
		st.cur, st.creating, st.afterResume = -1, false, nil
		if i < 0 || st.chain == nil || !st.chain.filters[i].failOpen {
			return st.sendReply(&localReply{status: 500}, i)
		}
		if !creating { // a failed NewFilter leaves a nil filter, skipped
			st.c.next = i + 1
		}
	}
}

func (st *streamState) runProtected() (status int32, panicked bool) {
	defer func() {
		if r := recover(); r != nil {
			name := "(bridge)"
			if st.chain != nil && st.cur >= 0 {
				name = st.chain.filters[st.cur].name
			}
			panicsTotal(name).Inc()
			Log(LevelError, fmt.Sprintf("go filter %q panicked: %v\n%s", name, r, debug.Stack()))
			panicked = true
		}
	}()
	return st.run(), false
}

func (st *streamState) run() int32 {
	c := &st.c
	fs := st.chain.filters
	for st.created < len(fs) { // the stream's first event: make its filters
		i := st.created
		st.created++
		if f := fs[i].shared; f != nil { // what NewFilter would return
			st.filters[i] = f
			continue
		}
		st.cur, st.creating = i, true
		st.filters[i] = fs[i].factory.NewFilter(&st.handles[i])
		st.creating = false
	}
	if fn := st.afterResume; fn != nil {
		st.afterResume = nil
		fn()
	}
	for {
		if c.next >= len(fs) {
			if c.thenBody {
				c.stage, c.next, c.thenBody = c.kind, 0, false
				continue
			}
			st.cur = -1
			return abi.Continue
		}
		i := c.next
		f := st.filters[i]
		if fs[i].hooks&(1<<c.stage) == 0 || f == nil ||
			(st.repliedBy > 0 && i >= st.repliedBy && c.stage >= abi.EvResponseHeaders) {
			c.next++
			continue
		}
		st.cur = i
		status := st.call(f, i, c)
		if c.reply {
			// A reply passes the response-headers hook of every filter it
			// reaches; what a hook answers other than Continue (a local
			// reply, Pending, StopAndBuffer) is ignored, and the next
			// filter's hook runs (docs/go-filters.md, "Replies moe makes
			// itself"). Stopping here skipped the later filters' hooks.
			if st.signal.Load() != 0 {
				st.mu.Lock()
				st.resumeReq, st.resumeFn, st.reply = false, nil, nil
				st.signal.Store(0)
				st.mu.Unlock()
			}
			c.next++
			continue
		}
		if st.signal.Load() != 0 || status == Pending {
			r, handled, goOn := st.async(i, status)
			if handled {
				return r
			}
			if goOn {
				if fn := st.afterResume; fn != nil { // Resume came before the hook returned
					st.afterResume = nil
					fn()
				}
				c.next++
				continue
			}
		}
		switch status {
		case Continue:
			c.next++
		case StopAndBuffer:
			if c.end || c.stage != c.kind || c.kind == abi.EvRequestTrailers || c.kind == abi.EvResponseTrailers {
				c.next++ // nothing (more) to buffer
				continue
			}
			b := &st.reqBuf
			if c.kind >= abi.EvResponseHeaders {
				b = &st.respBuf
			}
			*b = bufState{active: true, stage: c.stage, idx: i}
			st.cur = -1
			return abi.StopAndBuffer
		case LocalReply:
			return st.sendReply(&localReply{status: 500,
				body: []byte("filter " + fs[i].name + " returned LocalReply without SendLocalReply\n")}, i)
		default:
			panic(fmt.Sprintf("hook returned unknown Status %d", status))
		}
	}
}

// async handles a hook that returned Pending or called Resume, ResumeWith or
// SendLocalReply (possibly from a goroutine that beat the hook's return).
// handled: return r to C++. goOn: continue after filter i (st.afterResume
// first). Neither: handle status normally.
func (st *streamState) async(i int, status Status) (r int32, handled, goOn bool) {
	st.mu.Lock()
	if st.resumeReq {
		fn, rep := st.resumeFn, st.reply
		st.resumeReq, st.resumeFn, st.reply = false, nil, nil
		st.signal.Store(0)
		st.mu.Unlock()
		if rep != nil {
			return st.sendReply(rep, i), true, false
		}
		st.afterResume = fn
		return 0, false, true
	}
	st.signal.Store(0)
	if status != Pending {
		st.mu.Unlock()
		return 0, false, false
	}
	cf := &st.chain.filters[i]
	st.waiting, st.pend, st.escaped = true, i, true
	st.pendSeq++
	seq := st.pendSeq
	st.timer = time.AfterFunc(cf.timeout, func() { st.onTimeout(seq) })
	st.mu.Unlock()
	st.c.next = i // onResume continues at i+1
	st.cur = -1
	return abi.Pending, true, false
}

func (st *streamState) call(f Filter, i int, c *cursor) Status {
	s := &st.handles[i]
	switch c.stage {
	case abi.EvRequestHeaders:
		if h, ok := f.(RequestHeadersFilter); ok {
			return h.OnRequestHeaders(s, &st.reqHeaders, c.end && c.stage == c.kind)
		}
	case abi.EvRequestData:
		if h, ok := f.(RequestBodyFilter); ok {
			return h.OnRequestBody(s, &st.reqBody, c.end)
		}
	case abi.EvRequestTrailers:
		if h, ok := f.(RequestTrailersFilter); ok {
			return h.OnRequestTrailers(s, &st.reqTrailers)
		}
	case abi.EvResponseHeaders:
		if h, ok := f.(ResponseHeadersFilter); ok {
			return h.OnResponseHeaders(s, &st.respHeaders, c.end && c.stage == c.kind)
		}
	case abi.EvResponseData:
		if h, ok := f.(ResponseBodyFilter); ok {
			return h.OnResponseBody(s, &st.respBody, c.end)
		}
	case abi.EvResponseTrailers:
		if h, ok := f.(ResponseTrailersFilter); ok {
			return h.OnResponseTrailers(s, &st.respTrailers)
		}
	}
	return Continue
}

// finish handles DONE: OnDone hooks, then the state goes.
func (st *streamState) finish(ev *abi.Event) {
	d := DoneInfo{
		Status:        int(ev.FinalStatus),
		BytesReceived: ev.BytesReceived,
		BytesSent:     ev.BytesSent,
		Duration:      time.Duration(ev.DurationNs),
		UpstreamTime:  time.Duration(ev.UpstreamNs),
	}
	if st.escaped { // a goroutine may hold the stream: take the lock
		st.mu.Lock()
		st.done, st.waiting = true, false
		if st.timer != nil {
			st.timer.Stop()
			st.timer = nil
		}
		cancel := st.cancel
		st.mu.Unlock()
		if cancel != nil {
			cancel()
		}
	} else {
		st.done = true
	}
	for i := range st.filters {
		if f, ok := st.filters[i].(DoneFilter); ok {
			st.done1(f, i, d)
		}
	}
	st.ops = nil
	st.cur = -1
	st.dropViews()
	st.w.release(st)
}

func (st *streamState) done1(f DoneFilter, i int, d DoneInfo) {
	defer func() {
		if r := recover(); r != nil {
			name := st.chain.filters[i].name
			panicsTotal(name).Inc()
			Log(LevelError, fmt.Sprintf("go filter %q panicked in OnDone: %v\n%s", name, r, debug.Stack()))
		}
	}()
	st.cur = i
	f.OnDone(&st.handles[i], d)
}

// sendReply records a local reply in the ops. moe shapes it for a gRPC
// request on the C++ side (src/proxy/grpc.h), as it does its own replies.
// from is the filter the reply comes from (-1: none). A reply made on the
// request side limits the reply's response hooks to the filters the
// request reached: from and those before it (as Envoy skips the encoder
// filters after the one that replied). A filter after it never saw the
// request; its response hooks would run on state its request hook never
// set (docs/go-filters.md, Chain semantics).
func (st *streamState) sendReply(r *localReply, from int) int32 {
	if from >= 0 && st.c.stage < abi.EvResponseHeaders && st.repliedBy == 0 {
		st.repliedBy = from + 1
	}
	st.cur = -1
	status, headers, body := r.status, r.headers, r.body
	for _, h := range headers {
		n := lowerName(h[0])
		if validName(n) && validValue(h[1]) {
			st.emit(abi.OpAdd, abi.TargetLocalReply, n, h[1])
		}
	}
	var b [8]byte
	st.emit(abi.OpLocalReply, abi.TargetLocalReply, string(strconv.AppendInt(b[:0], int64(status), 10)), bstr(body))
	return abi.LocalReply
}
