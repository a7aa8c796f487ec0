package main

// The C helper lives in its own file: cgo forbids C definitions in the
// preamble of a file with //export directives.

/*
typedef void (*moe_thread_fn)(void*);
static inline void moe_call_thread_fn(moe_thread_fn fn, void* arg) { fn(arg); }
*/
import "C"

import "unsafe"

// runThread calls fn(arg) from Go: the C code it runs (a worker's event
// loop) is inside a Go->C call for its whole life, so every crossing it
// makes is a nested callback (docs/go-runtime.md, "A worker's loop runs
// inside a cgo call").
func runThread(fn unsafe.Pointer, arg unsafe.Pointer) {
	C.moe_call_thread_fn(C.moe_thread_fn(fn), arg)
}
