package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// DecodeConfig decodes a filter's `config` subtree (the raw JSON its
// factory gets) into v, strictly: an unknown key, a wrong type or anything
// after the value is an error, which moe reports with the filter's name and
// YAML line. An absent or null config leaves v as it is (its defaults).
func DecodeConfig(raw json.RawMessage, v any) error {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if d.More() {
		return errors.New("unexpected data after the config value")
	}
	return nil
}

// Register makes a filter available to moe configs under name. Call it from
// the init() of your package (compiled into moe) or of your plugin's main
// package. A name registered twice is an error reported when moe loads (the
// first registration stays).
func Register(name string, f FactoryFunc) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	src := registry.source
	switch {
	case name == "" || strings.ContainsAny(name, " \t\r\n\"") || f == nil:
		registry.errs = append(registry.errs,
			fmt.Errorf("api.Register(%q) from %s: invalid name or nil factory", name, srcName(src)))
		return
	case registry.m[name] != nil:
		registry.errs = append(registry.errs, fmt.Errorf("filter %q from %s is already registered by %s",
			name, srcName(src), srcName(registry.m[name].source)))
		return
	}
	registry.m[name] = &registration{factory: f, source: src}
}

// SecretFields names fields of filter name's config that moe's admin
// endpoint GET /config_dump must not show: the value of every config
// object member with one of these keys, at any depth, is dumped as
// "[redacted]". Keys that already look secret (password, secret, token,
// credential, authorization, cookie, api_key, ...: docs/operations.md) are
// redacted without it. Call it from init() next to Register; calling it
// again for the same name adds fields.
func SecretFields(name string, fields ...string) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.secrets == nil {
		registry.secrets = map[string][]string{}
	}
	registry.secrets[name] = append(registry.secrets[name], fields...)
}

// secretFields is what SecretFields registered for name (the bridge asks
// when /config_dump renders).
func secretFields(name string) []string {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return append([]string(nil), registry.secrets[name]...)
}

type registration struct {
	factory FactoryFunc
	source  string // "" = compiled in, else the plugin path
}

var registry = struct {
	mu      sync.Mutex
	m       map[string]*registration
	secrets map[string][]string // SecretFields
	source  string
	errs    []error
}{m: map[string]*registration{}}

func srcName(src string) string {
	if src == "" {
		return "a compiled-in package"
	}
	return "plugin " + src
}

func beginSource(src string) {
	registry.mu.Lock()
	registry.source = src
	registry.mu.Unlock()
}

func endSource() error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	registry.source = ""
	err := errors.Join(registry.errs...)
	registry.errs = nil
	return err
}

// lookup returns the factory for name, or an error listing what exists.
func lookup(name string) (FactoryFunc, error) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if r := registry.m[name]; r != nil {
		return r.factory, nil
	}
	var builtin, plugins []string
	for n, r := range registry.m {
		if r.source == "" {
			builtin = append(builtin, n)
		} else {
			plugins = append(plugins, n+" ("+r.source+")")
		}
	}
	sort.Strings(builtin)
	sort.Strings(plugins)
	pl := strings.Join(plugins, ", ")
	if pl == "" {
		pl = "none"
	}
	return nil, fmt.Errorf("filter %q is not registered (compiled-in: %s; plugins loaded: %s)",
		name, strings.Join(builtin, ", "), pl)
}

// pendingInitErrors returns duplicate registrations made by compiled-in
// packages (reported by the first chain creation, since init can't fail).
func pendingInitErrors() error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.source != "" {
		return nil
	}
	return errors.Join(registry.errs...)
}
