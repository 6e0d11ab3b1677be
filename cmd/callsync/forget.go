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
		"transaction, and leaves a tombstone (the call id only) so that no intake path stores them again. A phone\n"+
		"number is tombstoned too, as its keyed pseudonym: no call from or to it is stored later, whichever path\n"+
		"brings it; failures kept on queue rows that hold it are cleared.\n"+
		"With -, reads one call id or phone number (+ and digits) per line from standard input. Calls are found by\n"+
		"the number in clear and, when SYNC_HASH_PHONE_NUMBERS is on, by its hash, as ingest stored them.", e)
	var lc logConfig
	var dc dbConfig
	var hc hashConfig
	var ids, phones stringList
	var reason string
	lc.register(f, "info")
	dc.register(f)
	hc.register(f)
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
	if res.Numbers > 0 {
		fmt.Fprintf(e.stdout, "%d phone numbers tombstoned (as keyed pseudonyms, no number kept): a call from or to one of them "+
			"that is queued, polled, backfilled or fetched later is dropped when it would be stored; %d queue rows had a "+
			"kept failure holding one of them, now cleared\n", res.Numbers, res.Cleared)
		fmt.Fprintln(e.stdout, "not reached: logs and backups already written, and numbers in other formats than + and digits "+
			"(a national format, a number split by spaces inside a transcript)")
	}
	return nil
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
