package plugincheck

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func info(main string, deps []*debug.Module, kv ...string) *debug.BuildInfo {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: main, Version: "(devel)"}, Deps: deps}
	for i := 0; i+1 < len(kv); i += 2 {
		bi.Settings = append(bi.Settings, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
	}
	return bi
}

var hostInfo = info(GoextModule, nil, "-buildmode", "c-archive", "-trimpath", "true", "CGO_ENABLED", "1", "GOARCH", "amd64", "GOOS", "linux", "GOAMD64", "v1")

func goodPlugin() *debug.BuildInfo {
	return info("example.com/hello", []*debug.Module{{Path: GoextModule, Version: "(devel)"}},
		"-buildmode", "plugin", "-trimpath", "true", "CGO_ENABLED", "1", "GOARCH", "amd64", "GOOS", "linux", "GOAMD64", "v1")
}

func TestCompare(t *testing.T) {
	if err := Compare("p.so", hostInfo, goodPlugin()); err != nil {
		t.Fatal(err)
	}
	cases := map[string]func(*debug.BuildInfo){
		"was built with go1.25.5, moe with go1.26.8":      func(b *debug.BuildInfo) { b.GoVersion = "go1.25.5" },
		"was built with no -trimpath, moe with -trimpath": func(b *debug.BuildInfo) { b.Settings[1].Value = "" },
		"-buildmode=exe, not plugin":                      func(b *debug.BuildInfo) { b.Settings[0].Value = "exe" },
		"as a module dependency":                          func(b *debug.BuildInfo) { b.Deps[0].Version = "v0.1.0"; b.Deps[0].Sum = "h1:x" },
		"through a replace directive":                     func(b *debug.BuildInfo) { b.Deps[0].Replace = &debug.Module{Path: "../goext"} },
		"does not use moe/goext/api":                      func(b *debug.BuildInfo) { b.Deps = nil },
		"-race": func(b *debug.BuildInfo) {
			b.Settings = append(b.Settings, debug.BuildSetting{Key: "-race", Value: "true"})
		},
	}
	for want, mod := range cases {
		p := goodPlugin()
		mod(p)
		err := Compare("p.so", hostInfo, p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "scripts/build-plugin.sh") {
			t.Errorf("%s: got %v", want, err)
		}
	}
}

func TestCheckFiles(t *testing.T) {
	err := Check("/nonexistent/x.so", hostInfo)
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/x.so: file not found") {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "junk.so")
	os.WriteFile(p, []byte("not elf"), 0o644)
	if err := Check(p, hostInfo); err == nil || !strings.Contains(err.Error(), "no Go build info") {
		t.Fatal(err)
	}
}
