package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

// version and revision, when set at link time, name the build:
//
//	go build -ldflags "-X main.version=v1.4.0 -X main.revision=$(git rev-parse HEAD)" ./cmd/callsync
//
// The image's Dockerfile sets them from its build arguments, since its
// build context has no .git. Left empty, they come from the module's build
// information: the module version and, when built inside a git checkout,
// the commit.
var version, revision string

// buildVersion is what this binary says about its own build.
type buildVersion struct {
	Version   string // module version, v1.2.3 or a pseudo-version; "(devel)" when unknown
	Revision  string // vcs commit, with "-dirty" when the work tree had changes; "" when unknown
	GoVersion string
}

// readBuildVersion reads the build information, preferring the values set
// at link time.
func readBuildVersion() buildVersion {
	v := buildVersion{Version: "(devel)"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		v.GoVersion = bi.GoVersion
		if bi.Main.Version != "" {
			v.Version = bi.Main.Version
		}
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				v.Revision = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if modified && v.Revision != "" {
			v.Revision += "-dirty"
		}
	}
	if version != "" {
		v.Version = version
	}
	if revision != "" {
		v.Revision = revision
	}
	return v
}

// String is the one line `callsync version` prints.
func (v buildVersion) String() string {
	s := "callsync " + v.Version
	if v.Revision != "" && !strings.Contains(v.Version, shortRevision(v.Revision)) {
		s += " (" + shortRevision(v.Revision) + ")"
	}
	return s + " " + v.GoVersion
}

// shortRevision shortens a commit hash to 12 characters, keeping "-dirty".
func shortRevision(r string) string {
	hash, dirty, _ := strings.Cut(r, "-")
	if len(hash) > 12 {
		hash = hash[:12]
	}
	if dirty != "" {
		return hash + "-" + dirty
	}
	return hash
}

func runVersion(_ context.Context, args []string, e env) error {
	f := newFlagSet("version", "version\n\nPrints callsync's version, commit and Go version.", e)
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return usagef("version: takes no arguments")
	}
	fmt.Fprintln(e.stdout, readBuildVersion())
	return nil
}
