// Package host connects the api package's engine with what embeds it: the
// cgo bridge (C++ moe) or filtertest (plain go test). api registers its
// engine here in init(); the embedder installs its Env before the first
// chain is created. Nothing here is for filter authors.
package host

import "moe/goext/internal/abi"

// Env is what the embedder provides: the three C functions of goext_abi.h.
type Env interface {
	// OpsGrow grows ops.Buf to at least need bytes of capacity.
	OpsGrow(ops *abi.Ops, need uint32)
	// PostResume asks the worker owning handle to call OnResume. Any goroutine.
	PostResume(handle uint64)
	// Log writes to moe's log. Any goroutine. level 0 trace .. 4 error.
	Log(level int32, msg string)
}

// Engine is implemented by package api (set in its init).
type Engine struct {
	CreateChain func(id uint32, spec []byte) (events uint32, err error)
	// ValidateChain builds a chain as CreateChain would and discards it.
	ValidateChain func(spec []byte) error
	OnEvent       func(ev *abi.Event) int32
	// OnEvents handles a batch (moe_go_on_events) in one crossing.
	OnEvents func(evs []abi.Event)
	OnResume func(ev *abi.Event) int32
	// BeginSource attributes later api.Register calls to src (a plugin path);
	// EndSource ends that and returns the registration errors (duplicates).
	BeginSource func(src string)
	EndSource   func() error
	RuntimeJSON func(goVersion string) []byte
	Metrics     func() []byte
	// SecretFields: the config keys filter name registered with
	// api.SecretFields (redacted in /config_dump).
	SecretFields func(name string) []string
}

var (
	// E is the engine; set by package api's init.
	E Engine
	// Env is the embedder's environment; set by the bridge or filtertest.
	Current Env
)
