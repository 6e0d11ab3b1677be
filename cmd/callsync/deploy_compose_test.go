package main

import (
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

func TestDeploy_Compose(t *testing.T) {
	c := readCompose(t)
	for _, name := range []string{"postgres", "callsync", "grafana"} {
		if _, ok := c.Services[name]; !ok {
			t.Fatalf("compose.yaml has no %s service", name)
		}
	}
	for name, s := range c.Services {
		for _, v := range s.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, ".") {
				if _, err := os.Stat(filepath.Join(deployDir, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			}
		}
		for dep, d := range s.DependsOn {
			if d.Condition == "service_healthy" && c.Services[dep].Healthcheck == nil {
				t.Errorf("%s waits for %s to be healthy, which has no healthcheck", name, dep)
			}
		}
	}

	cs := c.Services["callsync"]
	if _, err := os.Stat(filepath.Join(deployDir, cs.Build.Context, cs.Build.Dockerfile)); err != nil {
		t.Errorf("callsync builds with %s in %s: %v", cs.Build.Dockerfile, cs.Build.Context, err)
	}
	if _, err := os.Stat(filepath.Join(deployDir, cs.Build.Context, "go.mod")); err != nil {
		t.Errorf("callsync's build context %s lacks go.mod", cs.Build.Context)
	}
	command, values := checkArgs(t, "compose callsync command", cs.Command)
	if command != "run" {
		t.Errorf("compose runs callsync %s, want run", command)
	}
	// Every setting of run is passed on; nothing else is.
	var want, got []string
	for env := range cliEnv(t, "run") {
		want = append(want, env)
	}
	for env := range cs.Environment {
		got = append(got, env)
	}
	slices.Sort(want)
	slices.Sort(got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("compose callsync environment vs run's variables (-run +compose):\n%s", diff)
	}
	if values["webhook-path"] == "" && !strings.Contains(cs.Environment["SYNTHFLOW_WEBHOOK_SECRET"], "SYNTHFLOW_WEBHOOK_SECRET") {
		t.Error("compose serves the webhook without passing SYNTHFLOW_WEBHOOK_SECRET: run would refuse to start")
	}
	// The published port is the one callsync listens on.
	port := portOf(t, cs.Environment["HTTP_ADDR"])
	if len(cs.Ports) != 1 || !strings.HasSuffix(cs.Ports[0], ":"+port) {
		t.Errorf("callsync ports %q, want the container port %s of HTTP_ADDR", cs.Ports, port)
	}
	// DATABASE_URL reaches the postgres service as the callsync role.
	u, err := url.Parse(composeVarRE.ReplaceAllString(cs.Environment["DATABASE_URL"], "x"))
	if err != nil || u.Hostname() != "postgres" || u.User.Username() != "callsync" {
		t.Errorf("callsync DATABASE_URL %q, want postgres://callsync:…@postgres:5432/… (%v)", cs.Environment["DATABASE_URL"], err)
	}

	// PostgreSQL runs the admin roles script from where init-roles.sh reads it.
	pg := c.Services["postgres"]
	script := string(readDeploy(t, "postgres/init-roles.sh"))
	m := regexp.MustCompile(`\$\{ROLES_ADMIN_SQL:-([^}]+)\}`).FindStringSubmatch(script)
	if m == nil {
		t.Fatal("init-roles.sh does not read ${ROLES_ADMIN_SQL:-…}")
	}
	mounts := map[string]string{}
	for _, v := range pg.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			mounts[parts[0]] = parts[1]
		}
	}
	if mounts["./sql/roles-admin.sql"] != m[1] {
		t.Errorf("postgres mounts sql/roles-admin.sql at %q, init-roles.sh reads %q", mounts["./sql/roles-admin.sql"], m[1])
	}
	// The owner's grants run as callsync, after callsync started.
	g, ok := c.Services["grants"]
	if !ok {
		t.Fatal("compose.yaml has no grants service to run sql/roles.sql")
	}
	if g.Environment["PGUSER"] != "callsync" || !strings.Contains(strings.Join(g.Command, " "), "/callsync/roles.sql") ||
		!slices.Contains(g.Volumes, "./sql/roles.sql:/callsync/roles.sql:ro") {
		t.Errorf("grants service: user %q, command %q, volumes %q; want roles.sql run as callsync",
			g.Environment["PGUSER"], g.Command, g.Volumes)
	}
	if _, ok := g.DependsOn["callsync"]; !ok {
		t.Error("grants service does not wait for callsync, which creates the tables")
	}
	if !strings.HasPrefix(mounts["./postgres/init-roles.sh"], "/docker-entrypoint-initdb.d/") {
		t.Errorf("init-roles.sh mounted at %q, want /docker-entrypoint-initdb.d/", mounts["./postgres/init-roles.sh"])
	}
	if fi, err := os.Stat(filepath.Join(deployDir, "postgres/init-roles.sh")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf("init-roles.sh is not executable (%v): the postgres image would source it", err)
	}
	for _, v := range []string{"POSTGRES_USER", "POSTGRES_DB", "CALLSYNC_DB_PASSWORD", "GRAFANA_DB_PASSWORD"} {
		if strings.Contains(script, "$"+v) && pg.Environment[v] == "" {
			t.Errorf("init-roles.sh reads %s, which the postgres service does not set", v)
		}
	}

	checkComposeGrafana(t, c)
}

// checkComposeGrafana checks that Grafana gets its provisioning, the
// dashboards where the provider looks, and the variables the data source reads.
func checkComposeGrafana(t *testing.T, c composeFile) {
	t.Helper()
	g := c.Services["grafana"]
	mounts := map[string]string{}
	for _, v := range g.Volumes {
		parts := strings.Split(v, ":")
		if len(parts) >= 2 {
			mounts[parts[0]] = parts[1]
		}
	}
	if mounts["./grafana/provisioning"] != "/etc/grafana/provisioning" {
		t.Errorf("grafana/provisioning mounted at %q, want /etc/grafana/provisioning", mounts["./grafana/provisioning"])
	}
	var providers struct {
		Providers []struct{ Options struct{ Path string } }
	}
	if err := yaml.Unmarshal(readDeploy(t, "grafana/provisioning/dashboards/callsync.yaml"), &providers); err != nil || len(providers.Providers) != 1 {
		t.Fatalf("dashboard provider: %v %+v", err, providers)
	}
	dir := providers.Providers[0].Options.Path
	if mounts["./grafana/dashboards"] != dir {
		t.Errorf("grafana/dashboards mounted at %q, the provider reads %q", mounts["./grafana/dashboards"], dir)
	}
	if home := g.Environment["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]; path.Dir(home) != dir {
		t.Errorf("home dashboard %q is not in %s", home, dir)
	} else if _, err := os.Stat(filepath.Join(deployDir, "grafana/dashboards", path.Base(home))); err != nil {
		t.Errorf("home dashboard: %v", err)
	}
	for _, m := range composeVarRE.FindAllStringSubmatch(string(readDeploy(t, "grafana/provisioning/datasources/callsync.yaml")), -1) {
		if _, ok := g.Environment[m[1]]; !ok {
			t.Errorf("the data source reads ${%s}, which the grafana service does not set", m[1])
		}
	}
}

func TestDeploy_EnvExample(t *testing.T) {
	values, commented := envExample(t)
	run := cliEnv(t, "run")
	compose := string(readDeploy(t, "compose.yaml"))
	composeVars := map[string]bool{}
	composeDefaults := map[string]string{}
	for _, m := range composeVarRE.FindAllStringSubmatch(compose, -1) {
		composeVars[m[1]] = true
		switch m[2] {
		case ":?":
			if _, ok := values[m[1]]; !ok || commented[m[1]] {
				t.Errorf("compose.yaml requires %s: .env.example must set it (uncommented)", m[1])
			}
		case ":-":
			if m[3] != "" {
				composeDefaults[m[1]] = m[3]
			}
		}
		if _, ok := values[m[1]]; !ok {
			t.Errorf("compose.yaml reads ${%s}, which .env.example does not list", m[1])
		}
	}
	for env := range run {
		if _, ok := values[env]; !ok {
			t.Errorf(".env.example does not list %s, a setting of callsync run", env)
		}
	}
	setByCompose := readCompose(t).Services["callsync"].Environment
	for name, v := range values {
		f, isCLI := run[name]
		if !isCLI && !composeVars[name] {
			t.Errorf(".env.example lists %s, which neither compose.yaml nor callsync run reads", name)
			continue
		}
		passedOn := regexp.MustCompile(`^\$\{` + name + `(:-[^}]*)?\}$`).MatchString(setByCompose[name])
		if !isCLI || !commented[name] || !passedOn {
			continue // a value to set, or one compose.yaml sets itself
		}
		want := f.def
		if d, ok := composeDefaults[name]; ok {
			want = d
		}
		if !sameDefault(f, v, want) {
			t.Errorf(".env.example shows %s=%s as the default, but it is %q", name, v, want)
		}
	}
}

// sameDefault compares a default as written in .env.example with the CLI's.
func sameDefault(f cliFlag, written, want string) bool {
	if f.typ == "duration" {
		a, errA := time.ParseDuration(written)
		b, errB := time.ParseDuration(want)
		return errA == nil && errB == nil && a == b
	}
	if f.typ == "" && want == "false" { // a bool's default shows as nothing
		return written == "" || written == "false"
	}
	return written == want
}
