package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// deployDir holds the deployment files the tests check against the CLI.
const deployDir = "../../deploy"

// cliFlag is a flag as `callsync COMMAND --help` lists it.
type cliFlag struct {
	name string
	typ  string // int, duration, string, value; empty for a bool
	env  string // the environment variable, if any
	def  string // the default, unquoted; empty when none
}

var (
	helpFlagRE = regexp.MustCompile(`(?m)^  -(\S+)(?: (\S+))?\n((?:    \t.*(?:\n|$))+)`)
	helpEnvRE  = regexp.MustCompile(`\[([A-Z][A-Z0-9_]*)\]`)
	helpDefRE  = regexp.MustCompile(`\(default (.*)\)\s*$`)
)

// cliFlags returns the flags of command, by name, from its --help.
func cliFlags(t *testing.T, command string) map[string]cliFlag {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), []string{command, "--help"}, func(string) string { return "" }, strings.NewReader(""), &out, &out)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("callsync %s --help: %v\n%s", command, err, out.String())
	}
	flags := map[string]cliFlag{}
	for _, m := range helpFlagRE.FindAllStringSubmatch(out.String(), -1) {
		f := cliFlag{name: m[1], typ: m[2]}
		usage := strings.TrimSpace(m[3])
		if e := helpEnvRE.FindAllStringSubmatch(usage, -1); e != nil {
			f.env = e[len(e)-1][1]
		}
		if d := helpDefRE.FindStringSubmatch(usage); d != nil {
			f.def = d[1]
			if s, err := strconv.Unquote(f.def); err == nil {
				f.def = s
			}
		}
		flags[f.name] = f
	}
	if len(flags) == 0 {
		t.Fatalf("no flags found in callsync %s --help:\n%s", command, out.String())
	}
	return flags
}

// cliEnv returns the flags of command by environment variable.
func cliEnv(t *testing.T, command string) map[string]cliFlag {
	t.Helper()
	byEnv := map[string]cliFlag{}
	for _, f := range cliFlags(t, command) {
		if f.env != "" {
			byEnv[f.env] = f
		}
	}
	return byEnv
}

// checkArgs checks a container's arguments against the CLI: a command,
// then flags it defines, with values of the right type. It returns the
// command and its flag values.
func checkArgs(t *testing.T, where string, args []string) (string, map[string]string) {
	t.Helper()
	if len(args) == 0 || !slices.ContainsFunc(commands, func(c command) bool { return c.name == args[0] }) {
		t.Errorf("%s: arguments %q do not start with a callsync command", where, args)
		return "", nil
	}
	flags := cliFlags(t, args[0])
	values := map[string]string{}
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if !strings.HasPrefix(a, "-") {
			continue // a positional argument, e.g. migrate's up
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f, ok := flags[name]
		if !ok {
			t.Errorf("%s: callsync %s has no flag -%s", where, args[0], name)
			continue
		}
		if !hasValue && f.typ != "" && i+1 < len(rest) {
			i++
			value = rest[i]
		}
		checkValue(t, where+": -"+name, f, value)
		values[name] = value
	}
	return args[0], values
}

// checkValue checks that value parses as f's type.
func checkValue(t *testing.T, where string, f cliFlag, value string) {
	t.Helper()
	var err error
	switch f.typ {
	case "int":
		_, err = strconv.Atoi(value)
	case "duration":
		_, err = time.ParseDuration(value)
	case "":
		if value != "" {
			_, err = strconv.ParseBool(strings.NewReplacer("yes", "true", "no", "false").Replace(strings.ToLower(value)))
		}
	}
	if err != nil {
		t.Errorf("%s = %q: not a valid %s", where, value, f.typ)
	}
}

// portOf returns the port of a listen address such as :8080.
func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("listen address %q: %v", addr, err)
	}
	return port
}

func readDeploy(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(deployDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// yamlDocs decodes every document of a YAML file into a new T.
func yamlDocs[T any](t *testing.T, name string) []T {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readDeploy(t, name)))
	var docs []T
	for {
		var d T
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		docs = append(docs, d)
	}
}

// dockerfile is what the tests read from deploy/Dockerfile.
type dockerfile struct {
	froms      []string
	entrypoint []string
	cmd        []string
	user       string
	expose     string
	text       string
}

func readDockerfile(t *testing.T) dockerfile {
	t.Helper()
	d := dockerfile{text: string(readDeploy(t, "Dockerfile"))}
	jsonArray := func(s string) []string {
		var out []string
		if err := yaml.Unmarshal([]byte(s), &out); err != nil { // a JSON array is YAML too
			t.Fatalf("Dockerfile: %q is not an exec-form array: %v", s, err)
		}
		return out
	}
	for _, line := range strings.Split(d.text, "\n") {
		instr, arg, _ := strings.Cut(strings.TrimSpace(line), " ")
		switch strings.ToUpper(instr) {
		case "FROM":
			d.froms = append(d.froms, arg)
		case "ENTRYPOINT":
			d.entrypoint = jsonArray(arg)
		case "CMD":
			d.cmd = jsonArray(arg)
		case "USER":
			d.user = arg
		case "EXPOSE":
			d.expose = arg
		}
	}
	return d
}

func TestDeploy_Dockerfile(t *testing.T) {
	d := readDockerfile(t)
	if len(d.froms) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a multi-stage build", len(d.froms))
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindStringSubmatch(string(gomod))
	if goVersion == nil || !strings.HasPrefix(d.froms[0], "golang:"+goVersion[1]+" ") && !strings.HasPrefix(d.froms[0], "golang:"+goVersion[1]+"-") {
		t.Errorf("build stage FROM %q, want golang:%s (go.mod's go version)", d.froms[0], goVersion[1])
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "./cmd/callsync", "COPY go.mod go.sum ./"} {
		if !strings.Contains(d.text, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	final := d.froms[len(d.froms)-1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage FROM %q, want a minimal image (distroless/static or scratch)", final)
	}
	if d.user == "" || d.user == "root" || strings.HasPrefix(d.user, "0") {
		t.Errorf("USER %q, want a non-root user", d.user)
	}
	if m := regexp.MustCompile(`(?m)^COPY --from=\S+ \S+ (\S+)$`).FindStringSubmatch(d.text); m == nil || len(d.entrypoint) != 1 || d.entrypoint[0] != m[1] {
		t.Errorf("ENTRYPOINT %q, want the callsync binary the final stage copies (%v)", d.entrypoint, m)
	}
	checkArgs(t, "Dockerfile CMD", d.cmd)
	if d.expose != portOf(t, deployHTTPAddr(t)) {
		t.Errorf("EXPOSE %q, want the port of compose.yaml's HTTP_ADDR %q", d.expose, deployHTTPAddr(t))
	}
	// The build context is the repository root: what the build needs must not be ignored.
	ignored := strings.Fields(string(readDeploy(t, "Dockerfile.dockerignore")))
	for _, need := range []string{"go.mod", "go.sum", "cmd", "api", "store", "sync", "migrations"} {
		for _, pattern := range ignored {
			if strings.Trim(pattern, "/") == need {
				t.Errorf("Dockerfile.dockerignore excludes %s, which the build needs", need)
			}
		}
		if _, err := os.Stat(filepath.Join("../..", need)); err != nil {
			t.Errorf("the build copies %s: %v", need, err)
		}
	}
}

// composeFile is the part of compose.yaml the tests read.
type composeFile struct {
	Services map[string]struct {
		Image string
		Build struct {
			Context    string
			Dockerfile string
		}
		Command     []string
		Environment map[string]string
		Ports       []string
		Volumes     []string
		DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
		Healthcheck *struct{ Test []string }
	}
}

func readCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := yaml.Unmarshal(readDeploy(t, "compose.yaml"), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// deployHTTPAddr is the HTTP address compose.yaml gives callsync run.
func deployHTTPAddr(t *testing.T) string {
	t.Helper()
	return readCompose(t).Services["callsync"].Environment["HTTP_ADDR"]
}

// composeVarRE matches ${NAME}, ${NAME:-default} and ${NAME:?message}.
var composeVarRE = regexp.MustCompile(`\$\{([A-Z][A-Z0-9_]*)(?:(:-|:\?)([^}]*))?\}`)

// envExample returns the NAME=value lines of .env.example, commented or
// not, and which are commented.
func envExample(t *testing.T) (values map[string]string, commented map[string]bool) {
	t.Helper()
	values, commented = map[string]string{}, map[string]bool{}
	re := regexp.MustCompile(`^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$`)
	for _, line := range strings.Split(string(readDeploy(t, ".env.example")), "\n") {
		if m := re.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			values[m[2]], commented[m[2]] = m[3], m[1] != ""
		}
	}
	return values, commented
}
