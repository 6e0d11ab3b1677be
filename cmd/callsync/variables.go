package main

import (
	"context"
	"fmt"
)

func runVariables(ctx context.Context, args []string, e env) error {
	f := newFlagSet("variables", "variables (list | share NAME ... | unshare NAME ...) [flags]\n\n"+
		"Keeps the list of collected variables whose values callsync_reader sees (collected_variable_values,\n"+
		"collected_variables.shared_value). Other variables show only their name and whether they were collected.\n"+
		"Share only variables that hold no personal data (a plan, a score), never names, emails or birth dates.", e)
	var lc logConfig
	var dc dbConfig
	lc.register(f, "info")
	dc.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	if f.NArg() == 0 {
		return usagef("variables: want list, share NAME ... or unshare NAME ...")
	}
	verb, names := f.Arg(0), f.Args()[1:]
	switch verb {
	case "list":
		if len(names) > 0 {
			return usagef("variables list: unexpected argument %q", names[0])
		}
	case "share", "unshare":
		if len(names) == 0 {
			return usagef("variables %s: name at least one variable", verb)
		}
	default:
		return usagef("variables: unknown action %q: want list, share or unshare", verb)
	}
	logger, err := lc.logger(e.stderr)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, dc, logger, true)
	if err != nil {
		return err
	}
	defer db.Close()
	switch verb {
	case "share":
		n, err := db.ShareVariables(ctx, names)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "shared %d variables: %d stored values now visible to callsync_reader\n", len(names), n)
		return nil
	case "unshare":
		n, err := db.UnshareVariables(ctx, names)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "unshared %d variables: %d stored values hidden from callsync_reader\n", len(names), n)
		return nil
	}
	list, err := db.SharedVariables(ctx)
	if err != nil {
		return err
	}
	for _, n := range list {
		fmt.Fprintln(e.stdout, n)
	}
	return nil
}
