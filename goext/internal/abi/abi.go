// Package abi mirrors include/moe/goext_abi.h in Go: the same constants and
// structs with the same memory layout, so the bridge can cast a *C.moe_event
// to an *abi.Event (checked at compile time in goext/bridge) and filtertest
// can build events in Go memory that the api package reads the same way.
package abi

import (
	"encoding/binary"
	"unsafe"
)

// Events (MOE_EV_*).
const (
	EvRequestHeaders   = 1
	EvRequestData      = 2
	EvRequestTrailers  = 3
	EvResponseHeaders  = 4
	EvResponseData     = 5
	EvResponseTrailers = 6
	EvDone             = 7

	// Event.EndStream bits (MOE_EVF_*).
	EvfEnd   = 1
	EvfReply = 2
)

// Statuses returned to C++ (MOE_CONTINUE..).
const (
	Continue      = 0
	StopAndBuffer = 1
	Pending       = 2
	LocalReply    = 3
)

// Op targets (MOE_TARGET_*).
const (
	TargetRequestHeaders   = 0
	TargetResponseHeaders  = 1
	TargetRequestTrailers  = 2
	TargetResponseTrailers = 3
	TargetRequestBody      = 4
	TargetResponseBody     = 5
	TargetLocalReply       = 6
	TargetStream           = 7
	// The final response head when it comes, before its hooks
	// (Stream.AddResponseHeader): OpSet, OpAdd, OpAddIfAbsent.
	TargetLaterResponseHeaders = 8
)

// Op codes (MOE_OP_*).
const (
	OpSet         = 1
	OpAdd         = 2
	OpDel         = 3
	OpSetMethod   = 4
	OpSetPath     = 5
	OpSetHost     = 6
	OpSetStatus   = 7
	OpBodyReplace = 8
	OpBodyAppend  = 9
	OpBodyPrepend = 10
	OpBodyDrain   = 11
	OpLocalReply  = 12
	OpKVSet       = 13
	OpLog         = 14
	OpAddIfAbsent = 15
)

// OpHeadLen is the size of an op's fixed head.
const OpHeadLen = 12

// Header is moe_header.
type Header struct {
	Name     *byte
	Value    *byte
	NameLen  uint32
	ValueLen uint32
}

// Ops is moe_ops.
type Ops struct {
	Buf *byte
	Len uint32
	Cap uint32
}

// StreamInfo is moe_stream_info.
type StreamInfo struct {
	Listener          *byte
	ListenerLen       uint32
	Route             *byte
	RouteLen          uint32
	Cluster           *byte
	ClusterLen        uint32
	DownstreamAddr    *byte
	DownstreamAddrLen uint32
	Protocol          *byte
	ProtocolLen       uint32
	Worker            uint32
	StartUnixNs       int64
	UpstreamAddr      *byte
	UpstreamAddrLen   uint32
	RequestID         *byte
	RequestIDLen      uint32
}

// Event is moe_event.
type Event struct {
	Handle      uint64
	GoState     uint64
	Chain       uint32
	Kind        uint32
	EndStream   uint32
	Headers     *Header
	HeaderCount uint32
	// The request's headers as they are now, on every event. The array is
	// valid during the call only; the strings it points at, for the stream.
	RequestHeaders     *Header
	RequestHeaderCount uint32
	Method             *byte
	MethodLen          uint32
	Path               *byte
	PathLen            uint32
	Scheme             *byte
	SchemeLen          uint32
	Status             int32
	Body               *byte
	BodyLen            uint32
	FinalStatus        int32
	BytesReceived      uint64
	BytesSent          uint64
	DurationNs         int64
	UpstreamNs         int64
	Info               *StreamInfo
	Ops                *Ops
	// The worker loop's clock (monotonic ms, cached per loop iteration).
	NowMs uint64
	// moe_go_on_events only: the event's status and its ops,
	// Ops.Buf[OpsBegin:OpsEnd].
	Result   int32
	OpsBegin uint32
	OpsEnd   uint32
}

// String is a zero-copy view of n bytes at p ("" when p is nil or n is 0).
func String(p *byte, n uint32) string {
	if p == nil || n == 0 {
		return ""
	}
	return unsafe.String(p, int(n))
}

// Bytes is a zero-copy view of n bytes at p (nil when empty).
func Bytes(p *byte, n uint32) []byte {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice(p, int(n))
}

// Headers is a zero-copy view of the event's header array.
func Headers(p *Header, n uint32) []Header {
	if p == nil || n == 0 {
		return nil
	}
	return unsafe.Slice(p, int(n))
}

// PutHead writes an op head into b (len(b) >= OpHeadLen).
func PutHead(b []byte, code, target uint8, aLen, bLen uint32) {
	b[0] = code
	b[1] = target
	b[2] = 0
	b[3] = 0
	binary.LittleEndian.PutUint32(b[4:], aLen)
	binary.LittleEndian.PutUint32(b[8:], bLen)
}

// Op is a decoded op (filtertest and tests only).
type Op struct {
	Code, Target uint8
	A, B         string
}

// DecodeOps parses an op buffer; ok is false if it is malformed.
func DecodeOps(b []byte) (ops []Op, ok bool) {
	for len(b) > 0 {
		if len(b) < OpHeadLen {
			return ops, false
		}
		al := int(binary.LittleEndian.Uint32(b[4:]))
		bl := int(binary.LittleEndian.Uint32(b[8:]))
		if len(b) < OpHeadLen+al+bl || b[2] != 0 || b[3] != 0 {
			return ops, false
		}
		ops = append(ops, Op{Code: b[0], Target: b[1],
			A: string(b[OpHeadLen : OpHeadLen+al]), B: string(b[OpHeadLen+al : OpHeadLen+al+bl])})
		b = b[OpHeadLen+al+bl:]
	}
	return ops, true
}
