package main

import (
	"context"
	"fmt"
)

func runMigrate(ctx context.Context, args []string, e env) error {
	f := newFlagSet("migrate", "migrate [flags] up|down|status\n\n  up      apply every pending migration (run and once also do this at start)\n  down    roll back the newest migration (with --all: every migration, dropping callsync's tables)\n  status  list migrations and whether each is applied", e)
	var lc logConfig
	var dc dbConfig
	var all bool
	lc.register(f, "info")
	dc.register(f)
	f.BoolVar(&all, "all", false, "with down: roll back every migration")
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() != 1 {
		return usagef("migrate: want one of up, down, status")
	}
	logger, err := lc.logger(e.stderr)
	if err != nil {
		return err
	}
	action := f.Arg(0)
	if action != "up" && action != "down" && action != "status" {
		return usagef("migrate: unknown action %q: want up, down or status", action)
	}
	db, err := openStore(ctx, dc, logger, false)
	if err != nil {
		return err
	}
	defer db.Close()
	switch action {
	case "up":
		return db.Migrate(ctx, logger)
	case "down":
		return db.MigrateDown(ctx, logger, all)
	}
	st, err := db.Migrations(ctx)
	if err != nil {
		return err
	}
	for _, m := range st {
		state := "pending"
		if m.Applied {
			state = "applied"
		}
		fmt.Fprintf(e.stdout, "%05d  %-8s %s\n", m.Version, state, m.Name)
	}
	return nil
}
