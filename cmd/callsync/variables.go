package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/callsync/callsync/store"
)

func runVariables(ctx context.Context, args []string, e env) error {
	f := newFlagSet("variables", "variables (list | share NAME ... | unshare NAME ...) [flags]\n\n"+
		"Keeps the list of collected variables whose values callsync_reader sees (collected_variable_values,\n"+
		"collected_variables.shared_value). Other variables show only their name and whether they were collected.\n"+
		"Share only variables that hold no personal data (a plan, a score), never names, emails or birth dates.\n"+
		"list shows every variable stored, marked shared or not, with the number of calls that have it.", e)
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
	_, db, err := openLogged(ctx, e, lc, dc, true)
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
	list, err := db.Variables(ctx)
	if err != nil {
		return err
	}
	printVariables(e.stdout, list)
	return nil
}

// printVariables prints the variables, marked shared or not, and how to
// share one when none is.
func printVariables(w io.Writer, list []store.VariableName) {
	if len(list) == 0 {
		fmt.Fprintln(w, "no collected variable is stored yet (and none is shared)")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "name\tshared\tcalls")
	shared := 0
	for _, v := range list {
		mark := "no"
		if v.Shared {
			mark = "yes"
			shared++
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\n", v.Name, mark, v.Calls)
	}
	tw.Flush()
	if shared == 0 {
		fmt.Fprintln(w, "\nno variable is shared: callsync_reader sees every value blank (NULL).")
	}
	fmt.Fprintln(w, "Share a variable that holds no personal data with: callsync variables share NAME")
}
