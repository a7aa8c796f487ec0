// Package api is what a moe Go filter imports, and the only package of
// moe/goext it needs.
//
// A filter is a Go value with one or more hook methods (OnRequestHeaders,
// OnRequestBody, OnRequestTrailers, OnResponseHeaders, OnResponseBody,
// OnResponseTrailers, OnDone). moe runs the filters of a listener's chain in
// order, once per stream event, inside ONE call from the C++ worker thread into
// Go. A hook returns a Status: Continue, StopAndBuffer, Pending or LocalReply.
//
// Only the hooks a filter's type really has are called, and moe skips the
// crossing into Go entirely for events that no filter of the chain handles:
// a chain of header-only filters never pays for body chunks. Which hooks a
// filter has is learned once per chain, when the chain is built (see Factory).
//
// # Memory rules
//
// Header names and values returned by Header.Get, Values and Range, and the
// strings of StreamInfo, are zero-copy views into moe's C++ memory. They stay
// valid for the whole stream (until OnDone returns). Keep one longer (in a
// global map, a cache, a goroutine that may outlive the stream) and you must
// copy it: strings.Clone(v).
//
// Body.Bytes() is a view of the current body chunk, valid only during the hook
// call that received it. Copy (bytes.Clone) anything you keep.
//
// # Threads
//
// Hooks run on moe's worker threads, one stream at a time per worker; a
// hook must never block (no network, no locks held long, no time.Sleep).
// Blocking work goes into a goroutine: return Pending, and from the goroutine
// call Stream.Resume, Stream.ResumeWith or Stream.SendLocalReply exactly once.
// Those three, plus Stream.Context, Stream.Log and Stream.Go, are the only
// methods that may be called from another goroutine. Everything else (reading
// or changing headers, body, the per-stream values) happens in hooks or in the
// function given to ResumeWith, which moe runs on the worker.
//
// # Failures
//
// A panic in a hook is recovered: the stream gets a 500 (or the chain goes on
// past the filter when its on_error is fail_open), the counter
// moe_go_filter_panics_total{filter="..."} goes up and the stack is logged.
// A filter that stays Pending longer than its timeout (default 5s) gets the
// same treatment with a 504. Never call os/signal.Notify: moe owns signals.
package api
