// Command bridge is moe's Go side as a c-archive (libmoego.a): the cgo
// exports declared in include/moe/goext_abi.h. It holds no filter logic; the
// engine is in package api, reached through internal/host.
//
// Build: go build -trimpath -buildmode=c-archive -o libmoego.a ./bridge
package main

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#include <stdlib.h>
#include "moe/goext_abi.h"
*/
import "C"

import (
	"fmt"
	"math"
	"plugin"
	"runtime"
	"runtime/debug"
	"strings"
	"unsafe"

	"moe/goext/api"
	"moe/goext/internal/abi"
	"moe/goext/internal/host"
	"moe/goext/internal/plugincheck"

	// Built-in filters: compiled in, registered in their init().
	_ "moe/goext/filters/bodyrewrite"
	_ "moe/goext/filters/extauth"
	_ "moe/goext/filters/headers"
	_ "moe/goext/filters/ratelimit"
	_ "moe/goext/filters/traceid"
)

func main() {}

func init() { host.Current = cEnv{} }

// cEnv calls the three C functions moe provides.
type cEnv struct{}

func (cEnv) OpsGrow(ops *abi.Ops, need uint32) {
	C.moe_ops_grow((*C.moe_ops)(unsafe.Pointer(ops)), C.uint32_t(need))
}

func (cEnv) PostResume(handle uint64) { C.moe_post_resume(C.uint64_t(handle)) }

func (cEnv) Log(level int32, msg string) {
	// A Go byte buffer without Go pointers may be passed to C for the call.
	C.moe_log(C.int32_t(level), (*C.char)(unsafe.Pointer(unsafe.StringData(msg))), C.uint32_t(len(msg)))
}

//export moe_go_configure
func moe_go_configure(gomaxprocs C.int32_t, gcPercent C.int32_t, memoryLimit C.int64_t) (ret C.int32_t) {
	defer recoverExport("moe_go_configure", func() { ret = 0 })
	if gomaxprocs > 0 {
		runtime.GOMAXPROCS(int(gomaxprocs))
	}
	debug.SetGCPercent(int(gcPercent))
	if memoryLimit > 0 {
		debug.SetMemoryLimit(int64(memoryLimit))
	} else {
		debug.SetMemoryLimit(math.MaxInt64)
	}
	return 0
}

//export moe_go_set_async_procs
func moe_go_set_async_procs(n C.int32_t) (ret C.int32_t) {
	defer recoverExport("moe_go_set_async_procs", func() { ret = 0 })
	api.SetAsyncProcs(int(n))
	return 0
}

//export moe_go_load_plugin
func moe_go_load_plugin(path *C.char, pathLen C.uint32_t) (ret *C.char) {
	p := C.GoStringN(path, C.int(pathLen))
	// A panic here is the plugin's init (plugin.Open runs it): the error
	// names the file, and the log has the stack.
	defer recoverExport("moe_go_load_plugin", func() {
		ret = C.CString(fmt.Sprintf("Go plugin %s: panicked while loading (its init functions); the log has the stack", p))
	})
	hostInfo, _ := debug.ReadBuildInfo()
	if err := plugincheck.Check(p, hostInfo); err != nil {
		return C.CString(err.Error())
	}
	host.E.BeginSource(p)
	_, err := plugin.Open(p)
	regErr := host.E.EndSource()
	if err != nil {
		msg := err.Error()
		if strings.Contains(msg, "different version of package") {
			msg += "; " + plugincheck.Hint
		}
		if strings.Contains(msg, "plugin already loaded") {
			// Go knows a plugin by its module path, not its file.
			msg += ": a plugin with the same module path is loaded already; give each plugin its own module path (the module line of its go.mod)"
		}
		return C.CString(fmt.Sprintf("Go plugin %s: %s", p, msg))
	}
	if regErr != nil {
		return C.CString(fmt.Sprintf("Go plugin %s: %v", p, regErr))
	}
	return nil
}

//export moe_go_create_chain
func moe_go_create_chain(chain C.uint32_t, json *C.char, jsonLen C.uint32_t, events *C.uint32_t) (ret *C.char) {
	defer recoverExport("moe_go_create_chain", func() { ret = C.CString("panic while building a Go filter chain (see the log)") })
	spec := abi.Bytes((*byte)(unsafe.Pointer(json)), uint32(jsonLen))
	ev, err := host.E.CreateChain(uint32(chain), spec)
	if events != nil {
		*events = C.uint32_t(ev)
	}
	if err != nil {
		return C.CString(err.Error())
	}
	return nil
}

//export moe_go_validate_chain
func moe_go_validate_chain(json *C.char, jsonLen C.uint32_t) (ret *C.char) {
	defer recoverExport("moe_go_validate_chain", func() { ret = C.CString("panic while checking a Go filter chain (see the log)") })
	if err := host.E.ValidateChain(abi.Bytes((*byte)(unsafe.Pointer(json)), uint32(jsonLen))); err != nil {
		return C.CString(err.Error())
	}
	return nil
}

//export moe_go_run_thread
func moe_go_run_thread(fn unsafe.Pointer, arg unsafe.Pointer) {
	// No recover: fn is C, and a panic here would be a runtime fault.
	runThread(fn, arg)
}

//export moe_go_on_event
func moe_go_on_event(ev *C.moe_event) (ret C.int32_t) {
	defer recoverEvent(ev, &ret)
	return C.int32_t(host.E.OnEvent((*abi.Event)(unsafe.Pointer(ev))))
}

//export moe_go_on_events
func moe_go_on_events(evs *C.moe_event, n C.uint32_t) {
	// The engine recovers per event; this is the last line of defence.
	defer recoverExport("moe_go_on_events", func() {})
	host.E.OnEvents(unsafe.Slice((*abi.Event)(unsafe.Pointer(evs)), int(n)))
}

//export moe_go_on_resume
func moe_go_on_resume(ev *C.moe_event) (ret C.int32_t) {
	defer recoverEvent(ev, &ret)
	return C.int32_t(host.E.OnResume((*abi.Event)(unsafe.Pointer(ev))))
}

//export moe_go_runtime_json
func moe_go_runtime_json() (ret *C.char) {
	defer recoverExport("moe_go_runtime_json", func() { ret = C.CString("{}") })
	return C.CString(string(host.E.RuntimeJSON(runtime.Version())))
}

//export moe_go_metrics
func moe_go_metrics() (ret *C.char) {
	defer recoverExport("moe_go_metrics", func() { ret = C.CString("") })
	return C.CString(string(host.E.Metrics()))
}

//export moe_go_secret_fields
func moe_go_secret_fields(name *C.char, nameLen C.uint32_t) (ret *C.char) {
	defer recoverExport("moe_go_secret_fields", func() { ret = nil })
	fields := host.E.SecretFields(C.GoStringN(name, C.int(nameLen)))
	if len(fields) == 0 {
		return nil
	}
	return C.CString(strings.Join(fields, "\n"))
}

// recoverExport is the last line of defence of an export: the engine
// recovers filter panics itself, so this only catches bugs of the bridge.
func recoverExport(name string, fail func()) {
	if r := recover(); r != nil {
		api.Log(api.LevelError, fmt.Sprintf("go bridge: panic in %s: %v\n%s", name, r, debug.Stack()))
		fail()
	}
}

func recoverEvent(ev *C.moe_event, ret *C.int32_t) {
	r := recover()
	if r == nil {
		return
	}
	api.NewCounter("(bridge)", "panics_total", "").Inc()
	api.Log(api.LevelError, fmt.Sprintf("go bridge: panic: %v\n%s", r, debug.Stack()))
	*ret = C.MOE_CONTINUE
	if ev.kind != C.MOE_EV_DONE && ev.ops != nil {
		writeReply500((*abi.Ops)(unsafe.Pointer(ev.ops)))
		*ret = C.MOE_LOCAL_REPLY
	}
}

func writeReply500(ops *abi.Ops) {
	const a = "500"
	need := ops.Len + abi.OpHeadLen + uint32(len(a))
	if need > ops.Cap {
		cEnv{}.OpsGrow(ops, need)
		if need > ops.Cap {
			return
		}
	}
	buf := abi.Bytes(ops.Buf, ops.Cap)[ops.Len:need]
	abi.PutHead(buf, abi.OpLocalReply, abi.TargetLocalReply, uint32(len(a)), 0)
	copy(buf[abi.OpHeadLen:], a)
	ops.Len = need
}
