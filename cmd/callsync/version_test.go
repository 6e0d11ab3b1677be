package main

import (
	"strings"
	"testing"
)

// TestVersion checks `callsync version` and `--version` on the binary
// built from this checkout: the module's build information names the
// commit, the same one build_info carries.
func TestVersion(t *testing.T) {
	out, code := execCmd(t, t.Context(), nil, "version")
	out2, code2 := execCmd(t, t.Context(), nil, "--version")
	if code != 0 || code2 != 0 || out != out2 || !strings.HasPrefix(out, "callsync ") || !strings.Contains(out, " go1.") {
		t.Fatalf("version: %d %q; --version: %d %q", code, out, code2, out2)
	}
	// A build with -buildvcs=true (go's default in a git checkout) names its
	// commit; .ci/run checks that on the image, built with -X flags.

	old := version
	version = "v1.2.3"
	defer func() { version = old }()
	r := runCmd(t, nil, "", "version")
	if r.err != nil || !strings.HasPrefix(r.stdout, "callsync v1.2.3") {
		t.Errorf("version with -X main.version=v1.2.3: %v %q", r.err, r.stdout)
	}
	m := gatherMetrics(t, newTelemetry())
	if m[`callsync_build_info{goversion="`+readBuildVersion().GoVersion+`",revision="`+readBuildVersion().Revision+`",version="v1.2.3"}`] != 1 {
		t.Errorf("callsync_build_info does not carry the version: %v", m)
	}
}
