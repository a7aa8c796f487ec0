package api

import (
	"encoding/json"
	"time"

	"moe/goext/internal/abi"
)

// Status is what a hook returns.
type Status int

const (
	// Continue passes the (possibly changed) event on to the next filter,
	// and after the last one, on through moe.
	Continue Status = abi.Continue
	// StopAndBuffer holds this direction until its whole body has arrived
	// (up to moe's limit: 413 for requests, 500 for responses), then delivers
	// it as one body event with endStream=true. Returned from a headers hook,
	// the headers are held back too and the later filters see them, then the
	// whole chain sees the body. Returned from a body hook, the buffered body
	// is delivered again starting at the filter that returned it. Meaningless
	// (treated as Continue) when endStream is already true.
	StopAndBuffer Status = abi.StopAndBuffer
	// Pending pauses the stream: a goroutine started by the hook will call
	// Stream.Resume, Stream.ResumeWith or Stream.SendLocalReply. The chain
	// then continues after this filter.
	Pending Status = abi.Pending
	// LocalReply ends the stream with the reply recorded by
	// Stream.SendLocalReply (a 500 if there is none).
	LocalReply Status = abi.LocalReply
)

func (s Status) String() string {
	switch s {
	case Continue:
		return "Continue"
	case StopAndBuffer:
		return "StopAndBuffer"
	case Pending:
		return "Pending"
	case LocalReply:
		return "LocalReply"
	}
	return "Status(?)"
}

// Filter is a filter instance: any value with at least one of the hook
// methods below (RequestHeadersFilter ... DoneFilter). Its type decides which
// hooks moe calls, so write the method signatures exactly; a filter whose
// type has none of them is an error when the chain is built, as is a method
// named like a hook with the wrong signature. A compile-time check helps:
//
//	var _ api.RequestHeadersFilter = (*myFilter)(nil)
type Filter any

// RequestHeadersFilter sees the request headers. endStream is true when the
// request has no body.
type RequestHeadersFilter interface {
	OnRequestHeaders(s *Stream, h *RequestHeaders, endStream bool) Status
}

// RequestBodyFilter sees each request body chunk (or, after StopAndBuffer,
// the whole body once, with endStream=true).
type RequestBodyFilter interface {
	OnRequestBody(s *Stream, b *Body, endStream bool) Status
}

// RequestTrailersFilter sees the request trailers (they end the request).
type RequestTrailersFilter interface {
	OnRequestTrailers(s *Stream, t *Header) Status
}

// ResponseHeadersFilter sees the response headers and status.
type ResponseHeadersFilter interface {
	OnResponseHeaders(s *Stream, h *ResponseHeaders, endStream bool) Status
}

// ResponseBodyFilter sees each response body chunk.
type ResponseBodyFilter interface {
	OnResponseBody(s *Stream, b *Body, endStream bool) Status
}

// ResponseTrailersFilter sees the response trailers.
type ResponseTrailersFilter interface {
	OnResponseTrailers(s *Stream, t *Header) Status
}

// DoneFilter is told that the stream ended (completed, reset or timed out).
// It is the last call for the stream; nothing may be changed any more.
type DoneFilter interface {
	OnDone(s *Stream, d DoneInfo)
}

// DoneInfo describes how a stream ended.
type DoneInfo struct {
	Status        int           // status sent to the client; 0 = none (reset before a response)
	BytesReceived uint64        // from the client
	BytesSent     uint64        // to the client
	Duration      time.Duration // whole stream
	UpstreamTime  time.Duration // time spent on the upstream; 0 when there was none
}

// Factory makes the filter instance for each stream of a chain. A filter
// with no per-stream state returns one shared instance (no allocation per
// request); otherwise a new value per call.
//
// NewFilter is also called once when the chain is built, with a probe
// Stream that is not a real request (Info() is zero, Get finds nothing, Set
// and Resume do nothing), to learn which hooks the filter has. Every value a
// Factory returns must have the same hook methods.
type Factory interface {
	NewFilter(s *Stream) Filter
}

// FactoryFunc builds a Factory from a filter's config: the JSON of the
// filter's `config:` in moe.yaml ("null" when absent). Its error fails the
// config load; moe prefixes it with the filter name.
type FactoryFunc func(config json.RawMessage) (Factory, error)

// Shared is a Factory returning the same filter for every stream.
func Shared(f Filter) Factory { return sharedFactory{f} }

type sharedFactory struct{ f Filter }

func (s sharedFactory) NewFilter(*Stream) Filter { return s.f }

// hook bits, one per event kind (1 << abi.Ev*), as moe_go_create_chain reports them.
const (
	bitReqHeaders   = 1 << abi.EvRequestHeaders
	bitReqBody      = 1 << abi.EvRequestData
	bitReqTrailers  = 1 << abi.EvRequestTrailers
	bitRespHeaders  = 1 << abi.EvResponseHeaders
	bitRespBody     = 1 << abi.EvResponseData
	bitRespTrailers = 1 << abi.EvResponseTrailers
	bitDone         = 1 << abi.EvDone
)

func hooksOf(f Filter) uint32 {
	var m uint32
	if _, ok := f.(RequestHeadersFilter); ok {
		m |= bitReqHeaders
	}
	if _, ok := f.(RequestBodyFilter); ok {
		m |= bitReqBody
	}
	if _, ok := f.(RequestTrailersFilter); ok {
		m |= bitReqTrailers
	}
	if _, ok := f.(ResponseHeadersFilter); ok {
		m |= bitRespHeaders
	}
	if _, ok := f.(ResponseBodyFilter); ok {
		m |= bitRespBody
	}
	if _, ok := f.(ResponseTrailersFilter); ok {
		m |= bitRespTrailers
	}
	if _, ok := f.(DoneFilter); ok {
		m |= bitDone
	}
	return m
}
