package sync

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/callsync/callsync/store"
)

// ForgetRequest is an erasure request: calls by id, and every call from or
// to a phone number.
type ForgetRequest struct {
	CallIDs      []string
	PhoneNumbers []string // E.164: + and 7 to 15 digits
	Reason       string   // for the audit row; must not name the person
	// HashPhones is the ingest's hasher, when phone numbers are stored
	// hashed: the numbers given are hashed to find the calls stored since,
	// and looked for in clear too, for those stored before hashing was on.
	HashPhones *PhoneHasher
}

// e164 is an E.164 number: a plus, a non-zero digit, at most 15 digits.
var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// maxReason bounds the reason kept in the audit row.
const maxReason = 500

// ErrNothingToForget is returned by Forget when the request names no call
// and no phone number.
var ErrNothingToForget = errors.New("sync: nothing to erase: give call ids or phone numbers")

// Forget validates req and erases its calls in one transaction (see
// store.DB.Forget): afterwards no intake path brings them back. A malformed
// call id or phone number fails the whole request, naming it, and erases
// nothing. It returns the store's error.
func Forget(ctx context.Context, s *store.DB, req ForgetRequest) (store.Erased, error) {
	if len(req.CallIDs) == 0 && len(req.PhoneNumbers) == 0 {
		return store.Erased{}, ErrNothingToForget
	}
	var errs []error
	for _, id := range req.CallIDs {
		if err := ValidateCallID(id); err != nil {
			errs = append(errs, err)
		}
	}
	var numbers, hashes []string
	for i, n := range req.PhoneNumbers {
		n = strings.TrimSpace(n)
		if !e164.MatchString(n) {
			// The number is personal data: the error does not repeat it.
			errs = append(errs, fmt.Errorf("phone number #%d is not E.164 (+ and 7 to 15 digits, no spaces)", i+1))
			continue
		}
		d := phoneDigits(n)
		numbers = append(numbers, d)
		if req.HashPhones != nil {
			// Ingest hashes a number as sent: with a + as a string, without
			// one as a JSON number.
			hashes = append(hashes, req.HashPhones.hash(n), req.HashPhones.hash(d))
		}
	}
	if len(req.Reason) > maxReason {
		errs = append(errs, fmt.Errorf("reason is %d bytes long, more than %d", len(req.Reason), maxReason))
	}
	if err := errors.Join(errs...); err != nil {
		return store.Erased{}, fmt.Errorf("nothing erased: %w", err)
	}
	return s.Forget(ctx, store.Erasure{CallIDs: req.CallIDs, PhoneNumbers: numbers, PhoneHashes: hashes,
		Reason: strings.TrimSpace(req.Reason)})
}

// Unforget removes the tombstones that Forget wrote for ids that were not
// stored, less than store.UndoWindow ago: the undo of a mistyped id. The
// tombstone of a call whose data was erased stays whatever is asked, so
// that an erasure of data cannot be undone into a sync of it. It returns
// the ids whose tombstone went, ErrNothingToForget when ids is empty, an
// error naming a malformed id, or the store's error.
func Unforget(ctx context.Context, s *store.DB, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, ErrNothingToForget
	}
	var errs []error
	for _, id := range ids {
		if err := ValidateCallID(id); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("no tombstone removed: %w", err)
	}
	return s.Unforget(ctx, ids)
}
