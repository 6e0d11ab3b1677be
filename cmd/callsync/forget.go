package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/callsync/callsync/store"
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
		"brings it; failures kept on queue rows that hold it are cleared. Their archived recordings are deleted from\n"+
		"the recordings storage (SYNC_RECORDINGS_URL), or by the worker.\n"+
		"With -, reads one call id or phone number (+ and digits) per line from standard input. Calls are found by\n"+
		"the number in clear and, when SYNC_HASH_PHONE_NUMBERS is on, by its hash, as ingest stored them.\n\n"+
		"A call id that is not stored is tombstoned all the same (an erasure may come before the sync), so a\n"+
		"mistyped id blocks that id from every future intake. With --undo --call-id ID, removes the tombstones\n"+
		"of such ids erased less than 24 hours ago; the tombstone of a call whose data was erased stays.", e)
	var lc logConfig
	var dc dbConfig
	var hc hashConfig
	var recs recordingsConfig
	var ids, phones stringList
	var reason string
	var undo bool
	lc.register(f, "info")
	dc.register(f)
	hc.register(f)
	recs.register(f)
	f.Var(&ids, "call-id", "a call to erase (repeatable)")
	f.Var(&phones, "phone-number", "erase every call from or to this E.164 number (repeatable)")
	f.StringVar(&reason, "reason", "", "kept in the erasures audit row, e.g. a ticket number; must not name the person")
	f.BoolVar(&undo, "undo", false, "remove the tombstones of the --call-id ids that were not stored when erased, less than 24 hours ago (a typo)")
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
	if undo && len(phones) > 0 {
		return usagef("forget --undo: give call ids only: an erasure by phone number cannot be undone")
	}
	hasher, err := hc.hasher()
	if err != nil {
		return err
	}
	if err := recs.validate(); err != nil {
		return err
	}
	logger, db, err := openLogged(ctx, e, lc, dc, true)
	if err != nil {
		return err
	}
	defer db.Close()
	if undo {
		return runUnforget(ctx, e, db, ids)
	}
	res, err := callsync.Forget(ctx, db, callsync.ForgetRequest{CallIDs: ids, PhoneNumbers: phones, Reason: reason,
		HashPhones: hasher})
	if err != nil {
		if errors.Is(err, callsync.ErrNothingToForget) {
			return usagef("forget: %v", err)
		}
		return fmt.Errorf("forget: %w", err)
	}
	foldRollups(ctx, db, withComponent(logger, componentRollups))
	printForget(e.stdout, res)
	return deleteMarkedRecordings(ctx, &recs, db, func(format string, a ...any) { fmt.Fprintf(e.stdout, format, a...) })
}

// printForget prints what an erasure did, and says so plainly when ids
// named nothing stored: their tombstones block them all the same.
func printForget(w io.Writer, res store.Erased) {
	unstored := map[string]bool{}
	for _, id := range res.Unstored {
		unstored[id] = true
	}
	for _, id := range res.Calls {
		if unstored[id] {
			fmt.Fprintln(w, "tombstoned", id, "(not stored: nothing deleted)")
		} else {
			fmt.Fprintln(w, "erased", id)
		}
	}
	fmt.Fprintf(w, "erasure %d: %d calls erased (%d were stored and are deleted, %d queue rows deleted); they will not be synced again\n",
		res.ID, len(res.Calls), res.Stored, res.Queued)
	if res.Numbers > 0 {
		fmt.Fprintf(w, "%d phone numbers tombstoned (as keyed pseudonyms, no number kept): a call from or to one of them "+
			"that is queued, polled, backfilled or fetched later is dropped when it would be stored; %d queue rows had a "+
			"kept failure holding one of them, now cleared\n", res.Numbers, res.Cleared)
		fmt.Fprintln(w, "not reached: logs and backups already written, and numbers in other formats than + and digits "+
			"(a national format, a number split by spaces inside a transcript)")
	}
	if len(res.Unstored) == 0 {
		return
	}
	fmt.Fprintf(w, "warning: nothing was stored under %d of these call ids: %s\n"+
		"Their tombstones block them from every future intake (webhook, enqueue, poll, backfill, verify --fix), which is\n"+
		"what an erasure ahead of the sync needs. If an id is a typo, undo it within 24 hours with:\n"+
		"  callsync forget --undo --call-id %s\n",
		len(res.Unstored), strings.Join(res.Unstored, " "), strings.Join(res.Unstored, " --call-id "))
}

// runUnforget removes the tombstones of ids that were not stored when
// erased, recently, and says which stay.
func runUnforget(ctx context.Context, e env, db *store.DB, ids []string) error {
	removed, err := callsync.Unforget(ctx, db, ids)
	if err != nil {
		return fmt.Errorf("forget --undo: %w", err)
	}
	gone := map[string]bool{}
	for _, id := range removed {
		gone[id] = true
		fmt.Fprintln(e.stdout, "tombstone removed", id)
	}
	var kept []string
	for _, id := range ids {
		if !gone[id] {
			kept = append(kept, id)
		}
	}
	fmt.Fprintf(e.stdout, "forget --undo: %d tombstones removed; intake may store these calls again\n", len(removed))
	if len(kept) > 0 {
		return fmt.Errorf("forget --undo: %d ids keep their tombstone (not tombstoned, erased with stored data, or erased "+
			"more than 24 hours ago): %s", len(kept), strings.Join(kept, " "))
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
