package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	callsync "github.com/callsync/callsync/sync"
)

// rangeConfig holds the models and time range that backfill, verify and
// poll work on.
type rangeConfig struct {
	models    modelList
	allModels bool
	from, to  string
	window    time.Duration
	fromT     time.Time
	toT       time.Time
}

func (c *rangeConfig) register(f *flagSet, windowEnv, windowUsage string) {
	f.Var(&c.models, "model-id", "agent (model_id) whose calls to read; repeat or separate with commas")
	f.BoolVar(&c.allModels, "all-models", false, "every agent of the workspace (GET /v2/assistants)")
	f.StringVar(&c.from, "from", "", "start of the range, inclusive: a date (2026-01-31, UTC) or RFC 3339 time")
	f.StringVar(&c.to, "to", "", "end of the range, exclusive: a date (UTC) or RFC 3339 time")
	f.durationVar(&c.window, "window", windowEnv, 24*time.Hour, windowUsage)
}

// validate checks the flags; cmd names the command in errors.
func (c *rangeConfig) validate(cmd string) error {
	switch {
	case len(c.models) == 0 && !c.allModels:
		return usagef("%s: give --model-id (repeatable) or --all-models", cmd)
	case len(c.models) > 0 && c.allModels:
		return usagef("%s: give --model-id or --all-models, not both", cmd)
	case c.from == "" || c.to == "":
		return usagef("%s: give --from and --to (dates such as 2026-01-31, or RFC 3339 times)", cmd)
	case c.window < time.Minute:
		return usagef("%s: --window %s: want at least 1m", cmd, c.window)
	}
	var err error
	if c.fromT, err = parseDate(c.from); err != nil {
		return usagef("%s: --from: %v", cmd, err)
	}
	if c.toT, err = parseDate(c.to); err != nil {
		return usagef("%s: --to: %v", cmd, err)
	}
	if !c.fromT.Before(c.toT) {
		return usagef("%s: --from %s is not before --to %s", cmd, c.from, c.to)
	}
	return nil
}

// windows lists the agents when asked to, and splits the range. With a
// store, the listing also refreshes the agents table.
func (c *rangeConfig) windows(ctx context.Context, l callsync.ModelLister, s callsync.AgentStore, cfg callsync.IntakeConfig, sent *int) ([]callsync.Window, error) {
	models := []string(c.models)
	if c.allModels {
		var err error
		if s != nil {
			models, _, err = callsync.RefreshAgents(ctx, l, s, cfg, sent)
		} else {
			models, err = callsync.AllModels(ctx, l, cfg, sent)
		}
		if err != nil {
			return nil, err
		}
		if len(models) == 0 {
			return nil, errors.New("the API lists no agents")
		}
	}
	return callsync.Windows(models, c.fromT, c.toT, c.window)
}

// parseDate reads a date (midnight UTC) or an RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q: want a date (2026-01-31) or an RFC 3339 time (2026-01-31T12:00:00Z)", s)
}

// modelList is a repeatable flag of model ids, also comma-separated.
type modelList []string

func (m *modelList) String() string { return strings.Join(*m, ",") }

func (m *modelList) Set(v string) error {
	for _, id := range strings.Split(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			*m = append(*m, id)
		}
	}
	return nil
}

// fmtTime prints a window bound: the date alone at midnight UTC.
func fmtTime(t time.Time) string {
	t = t.UTC()
	if t.Equal(t.Truncate(24 * time.Hour)) {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339)
}
