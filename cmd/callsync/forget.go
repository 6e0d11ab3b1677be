package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"strings"

	callsync "github.com/callsync/callsync/sync"
)

// stringList is a flag that may be given many times.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func runForget(ctx context.Context, args []string, e env) error {
	f := newFlagSet("forget", "forget (--call-id ID ... | --phone-number E164 ... | -) [--reason TEXT] [flags]\n\n"+
		"Erases calls for good (GDPR art. 17, CCPA): deletes them with all their rows and their queue rows in one\n"+
		"transaction, and leaves a tombstone (the call id only) so that no intake path stores them again.\n"+
		"Their archived recordings are deleted from the recordings storage (SYNC_RECORDINGS_URL), or by the worker.\n"+
		"With -, reads one call id or phone number (+ and digits) per line from standard input. Phone numbers are\n"+
		"hashed first when SYNC_HASH_PHONE_NUMBERS is on, as ingest stored them.", e)
	var lc logConfig
	var dc dbConfig
	var hc hashConfig
	var recs recordingsConfig
	var ids, phones stringList
	var reason string
	lc.register(f, "info")
	dc.register(f)
	hc.register(f)
	recs.register(f)
	f.Var(&ids, "call-id", "a call to erase (repeatable)")
	f.Var(&phones, "phone-number", "erase every call from or to this E.164 number (repeatable)")
	f.StringVar(&reason, "reason", "", "kept in the erasures audit row, e.g. a ticket number; must not name the person")
	if err := f.parse(args); err != nil {
		return err
	}
	for _, a := range f.Args() {
		if a != "-" {
			return usagef("forget: unexpected argument %q (use --call-id, --phone-number or -)", a)
		}
		if err := readForget(e, &ids, &phones); err != nil {
			return err
		}
	}
	if len(ids) == 0 && len(phones) == 0 {
		return usagef("forget: nothing to erase: give --call-id, --phone-number or - (standard input)")
	}
	hasher, err := hc.hasher()
	if err != nil {
		return err
	}
	if err := recs.validate(); err != nil {
		return err
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
	res, err := callsync.Forget(ctx, db, callsync.ForgetRequest{CallIDs: ids, PhoneNumbers: phones, Reason: reason,
		HashPhones: hasher})
	if err != nil {
		if errors.Is(err, callsync.ErrNothingToForget) {
			return usagef("forget: %v", err)
		}
		return fmt.Errorf("forget: %w", err)
	}
	foldRollups(ctx, db, withComponent(logger, componentRollups))
	for _, id := range res.Calls {
		fmt.Fprintln(e.stdout, "erased", id)
	}
	fmt.Fprintf(e.stdout, "erasure %d: %d calls erased (%d were stored, %d queue rows deleted); they will not be synced again\n",
		res.ID, len(res.Calls), res.Stored, res.Queued)
	return deleteMarkedRecordings(ctx, &recs, db, func(format string, a ...any) { fmt.Fprintf(e.stdout, format, a...) })
}

// readForget reads call ids and phone numbers, one per line, from standard
// input: a line starting with + is a phone number. Blank lines and lines
// starting with # are skipped.
func readForget(e env, ids, phones *stringList) error {
	sc := bufio.NewScanner(e.stdin)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "+"):
			*phones = append(*phones, line)
		default:
			*ids = append(*ids, line)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("forget: read standard input: %w", err)
	}
	return nil
}
