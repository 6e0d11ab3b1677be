package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	callsync "github.com/callsync/callsync/sync"
)

func runEnqueue(ctx context.Context, args []string, e env) error {
	f := newFlagSet("enqueue", "enqueue [flags] CALL_ID... | -\n\nQueues calls to sync; '-' reads ids from standard input, one per line.\nA call already done or failed is queued again.", e)
	var lc logConfig
	var dc dbConfig
	lc.register(f, "info")
	dc.register(f)
	if err := f.parse(args); err != nil {
		return err
	}
	ids := f.Args()
	if len(ids) == 0 {
		return usagef("enqueue: no call ids: give them as arguments, or '-' to read them from standard input")
	}
	if len(ids) == 1 && ids[0] == "-" {
		var err error
		if ids, err = readIDs(e); err != nil {
			return err
		}
	}
	logger, db, err := openLogged(ctx, e, lc, dc, true)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := callsync.Enqueue(ctx, db, ids)
	for _, id := range rep.Erased {
		logger.Debug("erased call not queued", attrCallID, id)
	}
	for _, r := range rep.Rejected {
		fmt.Fprintf(e.stderr, "callsync: enqueue: rejected: %v\n", r.Reason)
	}
	fmt.Fprintf(e.stdout, "enqueued %d new, %d again", rep.Added, rep.Requeued)
	if rep.Duplicates > 0 {
		fmt.Fprintf(e.stdout, ", %d duplicates ignored", rep.Duplicates)
	}
	if len(rep.Rejected) > 0 {
		fmt.Fprintf(e.stdout, ", %d rejected", len(rep.Rejected))
	}
	if len(rep.Erased) > 0 {
		fmt.Fprintf(e.stdout, ", %d erased (callsync forget) skipped", len(rep.Erased))
	}
	fmt.Fprintln(e.stdout)
	if err != nil {
		return err
	}
	if len(rep.Rejected) > 0 {
		return fmt.Errorf("enqueue: %d malformed call ids rejected (the others were queued)", len(rep.Rejected))
	}
	return nil
}

// readIDs reads one id per line from standard input. Surrounding blanks and
// carriage returns are trimmed; empty lines and lines starting with # are
// skipped.
func readIDs(e env) ([]string, error) {
	var ids []string
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		ids = append(ids, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("enqueue: read standard input: %w", err)
	}
	return ids, nil
}
