package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/callsync/callsync/store"
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
		return migrateUp(ctx, db, logger, e.stdout)
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

// migrateUp applies the pending migrations and prints what it did.
func migrateUp(ctx context.Context, db *store.DB, logger *slog.Logger, w io.Writer) error {
	before, err := db.Migrations(ctx)
	if err != nil {
		return err
	}
	if err := db.Migrate(ctx, withComponent(logger, componentMigrate)); err != nil {
		return err
	}
	var applied, latest int
	for _, m := range before {
		latest = max(latest, int(m.Version))
		if !m.Applied {
			fmt.Fprintf(w, "applied  %05d  %s\n", m.Version, m.Name)
			applied++
		}
	}
	if applied == 0 {
		fmt.Fprintf(w, "nothing to apply: the database is at the latest version, %05d\n", latest)
		return nil
	}
	fmt.Fprintf(w, "%d migrations applied; the database is at version %05d\n", applied, latest)
	return nil
}
