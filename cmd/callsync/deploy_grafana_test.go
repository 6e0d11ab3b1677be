package main

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"

	"github.com/callsync/callsync/api/apitest"
	"github.com/callsync/callsync/store"
	"github.com/callsync/callsync/store/pgserver"
	"github.com/callsync/callsync/store/report"
	"github.com/callsync/callsync/store/storetest"
	callsync "github.com/callsync/callsync/sync"
)

// grafanaDashboard is the part of the dashboard JSON the tests read.
type grafanaDashboard struct {
	UID    string
	Title  string
	Panels []struct {
		ID         int
		Type       string
		Title      string
		Datasource *struct{ Type, UID string }
		GridPos    struct{ X, Y, W, H int } `json:"gridPos"`
		Targets    []struct {
			RefID      string `json:"refId"`
			Datasource *struct{ Type, UID string }
			Format     string
			RawSQL     string `json:"rawSql"`
		}
	}
}

// timeFilterRE matches Grafana's $__timeFilter(column) macro, the only
// one the dashboard uses.
var timeFilterRE = regexp.MustCompile(`\$__timeFilter\(([a-z_]+)\)`)

// TestDeploy_GrafanaDashboard runs every panel's query, with the time
// macro expanded as Grafana would, on a database the demo filled.
func TestDeploy_GrafanaDashboard(t *testing.T) {
	var sources struct {
		Datasources []struct{ UID, Type string }
	}
	if err := yaml.Unmarshal(readDeploy(t, "grafana/provisioning/datasources/callsync.yaml"), &sources); err != nil || len(sources.Datasources) != 1 {
		t.Fatalf("data source provisioning: %v %+v", err, sources)
	}
	ds := sources.Datasources[0]
	var d grafanaDashboard
	if err := json.Unmarshal(readDeploy(t, "grafana/dashboards/callsync.json"), &d); err != nil {
		t.Fatalf("dashboard JSON: %v", err)
	}
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard uid %q, title %q, %d panels", d.UID, d.Title, len(d.Panels))
	}

	// The demo's data: the demo itself drops its database at the end, so
	// the same generated calls are synced here the way it syncs them.
	dbURL := storetest.NewDatabase(t)
	demoCalls := apitest.Generate(apitest.GenerateOptions{Seed: 42, Calls: 40, From: time.Now().Add(-7 * 24 * time.Hour), To: time.Now()})
	demoEnv := map[string]string{"DATABASE_URL": dbURL, "SYNTHFLOW_API_URL": fakeAPI(t, demoCalls...).URL,
		"SYNTHFLOW_API_KEY": testKey, "SYNTHFLOW_RATE_LIMIT": "0", "LOG_LEVEL": "warn"}
	if r := runCmd(t, demoEnv, "", append([]string{"enqueue"}, callIDs(demoCalls)...)...); r.err != nil {
		t.Fatalf("enqueue: %v", r.err)
	}
	if r := runCmd(t, demoEnv, "", "once"); r.err != nil {
		t.Fatalf("once: %v\n%s", r.err, r.stderr)
	}
	// As the demo does: list pages bring what a fetch of one call lacks (judgements, labels).
	from, to := time.Now().Add(-8*24*time.Hour).Format(time.DateOnly), time.Now().Add(48*time.Hour).Format(time.DateOnly)
	if r := runCmd(t, demoEnv, "", "backfill", "--all-models", "--from", from, "--to", to); r.err != nil {
		t.Fatalf("backfill: %v\n%s", r.err, r.stderr)
	}
	db, err := store.Open(t.Context(), dbURL, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now()
	if _, err := db.RecordRun(t.Context(), store.Run{Worker: "w", Command: "run", StartedAt: now.Add(-time.Second), FinishedAt: now, Claimed: 1, Synced: 1}, 0); err != nil {
		t.Fatal(err)
	}

	ids := map[int]bool{}
	var queried []string
	for _, p := range d.Panels {
		if ids[p.ID] || p.Title == "" || p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W == 0 || p.GridPos.H == 0 {
			t.Errorf("panel %d %q: duplicate id, no title or bad gridPos %+v", p.ID, p.Title, p.GridPos)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != ds.UID || p.Datasource.Type != ds.Type {
			t.Errorf("panel %q: data source %+v, want the provisioned %s (%s)", p.Title, p.Datasource, ds.UID, ds.Type)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			if q.Datasource == nil || q.Datasource.UID != ds.UID {
				t.Errorf("panel %q query %s: data source %+v, want %s", p.Title, q.RefID, q.Datasource, ds.UID)
			}
			sql := timeFilterRE.ReplaceAllString(q.RawSQL, "$1 BETWEEN now() - interval '30 days' AND now()")
			if strings.Contains(sql, "$") {
				t.Errorf("panel %q uses a macro or variable the test does not expand:\n%s", p.Title, q.RawSQL)
				continue
			}
			tab, err := report.Query(t.Context(), db, sql)
			if err != nil {
				t.Errorf("panel %q: %v\n%s", p.Title, err, sql)
				continue
			}
			if len(tab.Rows) == 0 {
				t.Errorf("panel %q shows nothing on the demo's data:\n%s", p.Title, sql)
			}
			if q.Format == "time_series" && (len(tab.Columns) == 0 || tab.Columns[0] != "time") {
				t.Errorf("panel %q: a time series whose first column is %v, not time", p.Title, tab.Columns)
			}
			queried = append(queried, sql)
		}
	}
	for _, view := range []string{"daily_call_stats", "call_facts", "sync_health", "sync_runs"} {
		if !slices.ContainsFunc(queried, func(s string) bool { return strings.Contains(s, view) }) {
			t.Errorf("no panel reads %s", view)
		}
	}
}

// TestDeploy_PrometheusAlerts checks that every callsync metric the alert
// rules use is one the worker exports.
func TestDeploy_PrometheusAlerts(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	if err := yaml.Unmarshal(readDeploy(t, "prometheus/alerts.yaml"), &rules); err != nil || len(rules.Groups) == 0 {
		t.Fatalf("alerts.yaml: %v", err)
	}
	tel := newTelemetry()
	tel.observeAPI("get_call", 200, time.Millisecond)
	tel.observeWrite(time.Millisecond, 1)
	tel.observeBatch(callsync.Stats{Done: 1})
	tel.observePass(time.Second, "ok", time.Now())
	tel.watchQueue(testSnapshot(t, store.New(storetest.Pool(t)), io.Discard))
	tel.watchRecordings(30 * 24 * time.Hour)
	families, err := tel.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exported := map[string]bool{}
	for _, f := range families {
		exported[f.GetName()] = true
		if f.GetType().String() == "HISTOGRAM" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[f.GetName()+s] = true
			}
		}
	}
	metricRE := regexp.MustCompile(`callsync_[a-z0-9_]+`)
	outcomeRE := regexp.MustCompile(`outcome="([a-z_]+)"`)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			names := metricRE.FindAllString(r.Expr, -1)
			if len(names) == 0 && !regexp.MustCompile(`\bup\{job="callsync"|kube_job_`).MatchString(r.Expr) {
				t.Errorf("alert %s uses no callsync metric, nor the callsync target's up, nor kube-state-metrics' jobs", r.Alert)
			}
			for _, n := range names {
				if !exported[n] {
					t.Errorf("alert %s uses %s, which callsync does not export", r.Alert, n)
				}
			}
			for _, m := range outcomeRE.FindAllStringSubmatch(r.Expr, -1) {
				if !slices.Contains(callsync.Outcomes, m[1]) {
					t.Errorf("alert %s selects outcome %q; outcomes are %v", r.Alert, m[1], callsync.Outcomes)
				}
			}
		}
	}
}

// TestDeploy_ComposeInitRoles runs compose's PostgreSQL init script on a
// throwaway cluster of its own (it creates fixed role names), then checks
// that callsync can migrate and Grafana's role can read and not write.
func TestDeploy_ComposeInitRoles(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pg, err := pgserver.Start(ctx, pgserver.Options{Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := pg.Close(); err != nil {
			t.Error(err)
		}
	}()
	if err := pgserver.CreateDatabase(ctx, pg.URL("postgres"), "warehouse"); err != nil {
		t.Fatal(err)
	}
	roles, err := filepath.Abs(filepath.Join(deployDir, "sql/roles-admin.sql"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, "sh", filepath.Join(deployDir, "postgres/init-roles.sh"))
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(psqlPath(t))+string(os.PathListSeparator)+os.Getenv("PATH"),
		"POSTGRES_USER=postgres", "POSTGRES_DB=warehouse", "PGHOST=127.0.0.1", "PGPORT="+strconv.Itoa(pg.Port()),
		"CALLSYNC_DB_PASSWORD=pw-callsync", "GRAFANA_DB_PASSWORD=pw-grafana", "ROLES_ADMIN_SQL="+roles)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("init-roles.sh: %v\n%s", err, out)
	}
	// The server trusts local connections: the passwords are not checked here.
	worker, err := openStore(ctx, dbConfig{url: strings.Replace(pg.URL("warehouse"), "postgres@", "callsync@", 1)}, nil, true)
	if err != nil {
		t.Fatalf("callsync cannot migrate: %v", err)
	}
	defer worker.Close()
	// What compose's grants service runs, as callsync, once the tables exist.
	if out, err := psqlScript(t, strings.Replace(pg.URL("warehouse"), "postgres@", "callsync@", 1), rolesScript); err != nil {
		t.Fatalf("psql -f %s as callsync: %v\n%s", rolesScript, err, out)
	}
	conn, err := pgx.Connect(ctx, strings.Replace(pg.URL("warehouse"), "postgres@", "grafana@", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{`SELECT * FROM daily_call_stats`, `SELECT * FROM sync_health`, `SELECT * FROM call_facts`,
		`SELECT call_id, status, phone_number_from_pseudonym FROM calls`} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Errorf("grafana: %s: %v", sql, err)
		}
	}
	for _, sql := range []string{`DELETE FROM calls`, `SELECT phone_number_from FROM calls`, `SELECT text FROM transcript_lines`} {
		if _, err := conn.Exec(ctx, sql); sqlState(err) != insufficientPrivilege {
			t.Errorf("grafana: %s = %v, want permission denied", sql, err)
		}
	}
}
