// Package plugincheck decides, before plugin.Open, whether a Go plugin was
// built so that it can load into this moe. It must: a mismatched plugin
// does not make plugin.Open return an error, it aborts the whole process
// ("runtime: no plugin module data"; docs/design/go-embedding-findings.md).
package plugincheck

import (
	"debug/buildinfo"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strings"
)

// GoextModule is the module path of moe's Go side.
const GoextModule = "moe/goext"

// Hint ends every error: the one way to build a plugin right.
const Hint = "rebuild it with scripts/build-plugin.sh (same Go toolchain, -trimpath, a go.work that uses this moe's goext/)"

// Check reads path's build info and compares it with the host's.
func Check(path string, hostInfo *debug.BuildInfo) error {
	if _, err := os.Stat(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("Go plugin %s: file not found", path)
		}
		return fmt.Errorf("Go plugin %s: %v", path, err)
	}
	pi, err := buildinfo.ReadFile(path)
	if err != nil {
		return fmt.Errorf("Go plugin %s: no Go build info (%v); is it a Go plugin? %s", path, err, Hint)
	}
	if hostInfo == nil {
		return fmt.Errorf("Go plugin %s: moe has no Go build info to compare with", path)
	}
	return Compare(path, hostInfo, pi)
}

// settings compared between host and plugin: every one that changes the
// export data of shared packages or the runtime's layout. -ldflags, CGO_*
// flags and vcs.* do not matter.
var compared = []string{"-trimpath", "-race", "-msan", "-asan", "-tags", "-gcflags", "-compiler",
	"CGO_ENABLED", "GOOS", "GOARCH", "GOEXPERIMENT", "GOAMD64", "GOARM", "GOARM64", "GO386", "GOMIPS",
	"GOMIPS64", "GOPPC64", "GORISCV64", "GOWASM"}

// Compare reports the first difference that would make plugin.Open abort or fail.
func Compare(path string, host, plug *debug.BuildInfo) error {
	if plug.GoVersion != host.GoVersion {
		return fmt.Errorf("Go plugin %s was built with %s, moe with %s; %s", path, plug.GoVersion, host.GoVersion, Hint)
	}
	hs, ps := settings(host), settings(plug)
	if m := ps["-buildmode"]; m != "plugin" {
		return fmt.Errorf("Go plugin %s was built with -buildmode=%s, not plugin; %s", path, m, Hint)
	}
	for _, k := range compared {
		if hs[k] != ps[k] {
			return fmt.Errorf("Go plugin %s was built with %s, moe with %s; %s", path, show(k, ps[k]), show(k, hs[k]), Hint)
		}
	}
	// goext must be a main (workspace) module of the plugin build, like it
	// is of moe's: as a versioned dependency its files get other names
	// under -trimpath, and plugin.Open fails on "moe/goext/api".
	var dep *debug.Module
	for _, d := range plug.Deps {
		if d.Path == GoextModule {
			dep = d
		}
	}
	switch {
	case plug.Main.Path == GoextModule:
		// built inside the goext module itself
	case dep == nil:
		return fmt.Errorf("Go plugin %s does not use %s/api, so it cannot register filters; %s", path, GoextModule, Hint)
	case dep.Replace != nil:
		return fmt.Errorf("Go plugin %s uses %s through a replace directive (=> %s); %s", path, GoextModule, dep.Replace.Path, Hint)
	case dep.Version != "(devel)" || dep.Sum != "":
		return fmt.Errorf("Go plugin %s uses %s %s as a module dependency, not as a go.work module; %s", path, GoextModule, dep.Version, Hint)
	}
	return nil
}

func settings(bi *debug.BuildInfo) map[string]string {
	m := make(map[string]string, len(bi.Settings))
	for _, s := range bi.Settings {
		m[s.Key] = s.Value
	}
	return m
}

func show(k, v string) string {
	switch {
	case v == "" && strings.HasPrefix(k, "-"):
		return "no " + k
	case v == "":
		return k + " unset"
	case strings.HasPrefix(k, "-") && v == "true":
		return k
	}
	return k + "=" + v
}
