package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include "moe/goext_abi.h"
*/
import "C"

import (
	"unsafe"

	"moe/goext/internal/abi"
)

// Compile-time proof that internal/abi mirrors goext_abi.h: each line fails
// to compile ("constant overflows" or a type mismatch) if a size or an
// offset differs. Keep it in step with the header.
var (
	ce  C.moe_event
	ge  abi.Event
	ch  C.moe_header
	gh  abi.Header
	co  C.moe_ops
	gop abi.Ops
	ci  C.moe_stream_info
	gi  abi.StreamInfo
)

var (
	_ [0]byte = [unsafe.Sizeof(ce) - unsafe.Sizeof(ge)]byte{}
	_ [0]byte = [unsafe.Sizeof(ge) - unsafe.Sizeof(ce)]byte{}
	_ [0]byte = [unsafe.Sizeof(ch) - unsafe.Sizeof(gh)]byte{}
	_ [0]byte = [unsafe.Sizeof(gh) - unsafe.Sizeof(ch)]byte{}
	_ [0]byte = [unsafe.Sizeof(co) - unsafe.Sizeof(gop)]byte{}
	_ [0]byte = [unsafe.Sizeof(gop) - unsafe.Sizeof(co)]byte{}
	_ [0]byte = [unsafe.Sizeof(ci) - unsafe.Sizeof(gi)]byte{}
	_ [0]byte = [unsafe.Sizeof(gi) - unsafe.Sizeof(ci)]byte{}

	_ [unsafe.Offsetof(ce.go_state)]byte             = [unsafe.Offsetof(ge.GoState)]byte{}
	_ [unsafe.Offsetof(ce.chain)]byte                = [unsafe.Offsetof(ge.Chain)]byte{}
	_ [unsafe.Offsetof(ce.kind)]byte                 = [unsafe.Offsetof(ge.Kind)]byte{}
	_ [unsafe.Offsetof(ce.end_stream)]byte           = [unsafe.Offsetof(ge.EndStream)]byte{}
	_ [unsafe.Offsetof(ce.headers)]byte              = [unsafe.Offsetof(ge.Headers)]byte{}
	_ [unsafe.Offsetof(ce.header_count)]byte         = [unsafe.Offsetof(ge.HeaderCount)]byte{}
	_ [unsafe.Offsetof(ce.request_headers)]byte      = [unsafe.Offsetof(ge.RequestHeaders)]byte{}
	_ [unsafe.Offsetof(ce.request_header_count)]byte = [unsafe.Offsetof(ge.RequestHeaderCount)]byte{}
	_ [unsafe.Offsetof(ce.method)]byte               = [unsafe.Offsetof(ge.Method)]byte{}
	_ [unsafe.Offsetof(ce.method_len)]byte           = [unsafe.Offsetof(ge.MethodLen)]byte{}
	_ [unsafe.Offsetof(ce.path)]byte                 = [unsafe.Offsetof(ge.Path)]byte{}
	_ [unsafe.Offsetof(ce.path_len)]byte             = [unsafe.Offsetof(ge.PathLen)]byte{}
	_ [unsafe.Offsetof(ce.scheme)]byte               = [unsafe.Offsetof(ge.Scheme)]byte{}
	_ [unsafe.Offsetof(ce.scheme_len)]byte           = [unsafe.Offsetof(ge.SchemeLen)]byte{}
	_ [unsafe.Offsetof(ce.status)]byte               = [unsafe.Offsetof(ge.Status)]byte{}
	_ [unsafe.Offsetof(ce.body)]byte                 = [unsafe.Offsetof(ge.Body)]byte{}
	_ [unsafe.Offsetof(ce.body_len)]byte             = [unsafe.Offsetof(ge.BodyLen)]byte{}
	_ [unsafe.Offsetof(ce.final_status)]byte         = [unsafe.Offsetof(ge.FinalStatus)]byte{}
	_ [unsafe.Offsetof(ce.bytes_received)]byte       = [unsafe.Offsetof(ge.BytesReceived)]byte{}
	_ [unsafe.Offsetof(ce.bytes_sent)]byte           = [unsafe.Offsetof(ge.BytesSent)]byte{}
	_ [unsafe.Offsetof(ce.duration_ns)]byte          = [unsafe.Offsetof(ge.DurationNs)]byte{}
	_ [unsafe.Offsetof(ce.upstream_ns)]byte          = [unsafe.Offsetof(ge.UpstreamNs)]byte{}
	_ [unsafe.Offsetof(ce.now_ms)]byte               = [unsafe.Offsetof(ge.NowMs)]byte{}
	_ [unsafe.Offsetof(ce.info)]byte                 = [unsafe.Offsetof(ge.Info)]byte{}
	_ [unsafe.Offsetof(ce.ops)]byte                  = [unsafe.Offsetof(ge.Ops)]byte{}
	_ [unsafe.Offsetof(ce.result)]byte               = [unsafe.Offsetof(ge.Result)]byte{}
	_ [unsafe.Offsetof(ce.ops_begin)]byte            = [unsafe.Offsetof(ge.OpsBegin)]byte{}
	_ [unsafe.Offsetof(ce.ops_end)]byte              = [unsafe.Offsetof(ge.OpsEnd)]byte{}

	_ [unsafe.Offsetof(ch.value)]byte     = [unsafe.Offsetof(gh.Value)]byte{}
	_ [unsafe.Offsetof(ch.name_len)]byte  = [unsafe.Offsetof(gh.NameLen)]byte{}
	_ [unsafe.Offsetof(ch.value_len)]byte = [unsafe.Offsetof(gh.ValueLen)]byte{}
	_ [unsafe.Offsetof(co.len)]byte       = [unsafe.Offsetof(gop.Len)]byte{}
	_ [unsafe.Offsetof(co.cap)]byte       = [unsafe.Offsetof(gop.Cap)]byte{}

	_ [unsafe.Offsetof(ci.route)]byte           = [unsafe.Offsetof(gi.Route)]byte{}
	_ [unsafe.Offsetof(ci.cluster)]byte         = [unsafe.Offsetof(gi.Cluster)]byte{}
	_ [unsafe.Offsetof(ci.downstream_addr)]byte = [unsafe.Offsetof(gi.DownstreamAddr)]byte{}
	_ [unsafe.Offsetof(ci.protocol)]byte        = [unsafe.Offsetof(gi.Protocol)]byte{}
	_ [unsafe.Offsetof(ci.worker)]byte          = [unsafe.Offsetof(gi.Worker)]byte{}
	_ [unsafe.Offsetof(ci.start_unix_ns)]byte   = [unsafe.Offsetof(gi.StartUnixNs)]byte{}
	_ [unsafe.Offsetof(ci.upstream_addr)]byte   = [unsafe.Offsetof(gi.UpstreamAddr)]byte{}
	_ [unsafe.Offsetof(ci.request_id)]byte      = [unsafe.Offsetof(gi.RequestID)]byte{}

	// The constants too: every one of the header's enums.
	_ [C.MOE_EV_REQUEST_HEADERS]byte            = [abi.EvRequestHeaders]byte{}
	_ [C.MOE_EV_REQUEST_DATA]byte               = [abi.EvRequestData]byte{}
	_ [C.MOE_EV_REQUEST_TRAILERS]byte           = [abi.EvRequestTrailers]byte{}
	_ [C.MOE_EV_RESPONSE_HEADERS]byte           = [abi.EvResponseHeaders]byte{}
	_ [C.MOE_EV_RESPONSE_DATA]byte              = [abi.EvResponseData]byte{}
	_ [C.MOE_EV_RESPONSE_TRAILERS]byte          = [abi.EvResponseTrailers]byte{}
	_ [C.MOE_EV_DONE]byte                       = [abi.EvDone]byte{}
	_ [C.MOE_EVF_END]byte                       = [abi.EvfEnd]byte{}
	_ [C.MOE_EVF_REPLY]byte                     = [abi.EvfReply]byte{}
	_ [C.MOE_CONTINUE]byte                      = [abi.Continue]byte{}
	_ [C.MOE_STOP_AND_BUFFER]byte               = [abi.StopAndBuffer]byte{}
	_ [C.MOE_PENDING]byte                       = [abi.Pending]byte{}
	_ [C.MOE_LOCAL_REPLY]byte                   = [abi.LocalReply]byte{}
	_ [C.MOE_TARGET_REQUEST_HEADERS]byte        = [abi.TargetRequestHeaders]byte{}
	_ [C.MOE_TARGET_RESPONSE_HEADERS]byte       = [abi.TargetResponseHeaders]byte{}
	_ [C.MOE_TARGET_REQUEST_TRAILERS]byte       = [abi.TargetRequestTrailers]byte{}
	_ [C.MOE_TARGET_RESPONSE_TRAILERS]byte      = [abi.TargetResponseTrailers]byte{}
	_ [C.MOE_TARGET_REQUEST_BODY]byte           = [abi.TargetRequestBody]byte{}
	_ [C.MOE_TARGET_RESPONSE_BODY]byte          = [abi.TargetResponseBody]byte{}
	_ [C.MOE_TARGET_LOCAL_REPLY]byte            = [abi.TargetLocalReply]byte{}
	_ [C.MOE_TARGET_STREAM]byte                 = [abi.TargetStream]byte{}
	_ [C.MOE_TARGET_LATER_RESPONSE_HEADERS]byte = [abi.TargetLaterResponseHeaders]byte{}
	_ [C.MOE_OP_SET]byte                        = [abi.OpSet]byte{}
	_ [C.MOE_OP_ADD]byte                        = [abi.OpAdd]byte{}
	_ [C.MOE_OP_DEL]byte                        = [abi.OpDel]byte{}
	_ [C.MOE_OP_SET_METHOD]byte                 = [abi.OpSetMethod]byte{}
	_ [C.MOE_OP_SET_PATH]byte                   = [abi.OpSetPath]byte{}
	_ [C.MOE_OP_SET_HOST]byte                   = [abi.OpSetHost]byte{}
	_ [C.MOE_OP_SET_STATUS]byte                 = [abi.OpSetStatus]byte{}
	_ [C.MOE_OP_BODY_REPLACE]byte               = [abi.OpBodyReplace]byte{}
	_ [C.MOE_OP_BODY_APPEND]byte                = [abi.OpBodyAppend]byte{}
	_ [C.MOE_OP_BODY_PREPEND]byte               = [abi.OpBodyPrepend]byte{}
	_ [C.MOE_OP_BODY_DRAIN]byte                 = [abi.OpBodyDrain]byte{}
	_ [C.MOE_OP_LOCAL_REPLY]byte                = [abi.OpLocalReply]byte{}
	_ [C.MOE_OP_KV_SET]byte                     = [abi.OpKVSet]byte{}
	_ [C.MOE_OP_LOG]byte                        = [abi.OpLog]byte{}
	_ [C.MOE_OP_ADD_IF_ABSENT]byte              = [abi.OpAddIfAbsent]byte{}
)
