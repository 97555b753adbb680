package cli

import (
	"runtime/debug"
	"strings"
)

// modulePath is the module `go install` fetches splitschema from.
const modulePath = "github.com/splitschema/splitschema"

// buildInfo is what `version` prints: the module version and the VCS
// revision the binary was built from, as the Go toolchain recorded them.
type buildInfo struct {
	Version   string `json:"version"`
	Module    string `json:"module"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go"`
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: Version, Module: modulePath}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	b.GoVersion = info.GoVersion
	if v := info.Main.Version; Version == "dev" && v != "" && v != "(devel)" {
		b.Version = v
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

func (b buildInfo) Human() string {
	var s strings.Builder
	s.WriteString("splitschema " + b.Version)
	if b.Revision != "" {
		s.WriteString(" (revision " + b.Revision)
		if b.Modified {
			s.WriteString(", modified")
		}
		if b.Time != "" {
			s.WriteString(", " + b.Time)
		}
		s.WriteString(")")
	}
	if b.GoVersion != "" {
		s.WriteString(", built with " + b.GoVersion)
	}
	return s.String() + "\n"
}

// releaseVersion is the version `go install ...@VERSION` would fetch this
// binary again with, or "latest" for a development build.
func releaseVersion() string {
	v := readBuildInfo().Version
	if v == "" || v == "dev" || strings.Contains(v, "devel") {
		return "latest"
	}
	return v
}
