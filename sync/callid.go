package sync

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxCallIDLength bounds a call id. Real ids are 36 (UUID) or about 32
// (Bubble-style) characters long.
const MaxCallIDLength = 128

// ValidateCallID checks that id looks like a Synthflow call id: 1 to 128
// characters of letters, digits, '-', '_', '.' and ':' that is not "." or "..".
// Real ids are UUIDs or Bubble-style (1725527007259x327898249603432960). The
// error says what is wrong and quotes the id safely. It is the one check of
// every way an id enters: enqueue, the webhook, the entries of list pages
// (poll, backfill, verify --fix) and the ids a get-call answer is asked for.
func ValidateCallID(id string) error {
	fault, r := callIDFault(id)
	switch {
	case fault == "":
		return nil
	case id == "":
		return fmt.Errorf("call id %s", fault)
	case len(id) > MaxCallIDLength || !utf8.ValidString(id):
		return fmt.Errorf("call id %.40q… %s", id, fault)
	case r != 0:
		return fmt.Errorf("call id %q contains %q: ids hold only letters, digits, '-', '_', '.' and ':'", id, r)
	}
	return fmt.Errorf("call id %q %s", id, fault)
}

// CallIDFault says what is wrong with id, without quoting it, for a log
// line about an id that came from outside; "" when nothing is.
func CallIDFault(id string) string {
	fault, _ := callIDFault(id)
	return fault
}

// callIDFault says what is wrong with id without quoting any of it, for
// logs of ids that came from the API (a hostile page can put anything in
// one); "" when nothing is. r is the rune that is not allowed, when that
// is the fault.
func callIDFault(id string) (fault string, r rune) {
	switch {
	case id == "":
		return "is empty", 0
	case !utf8.ValidString(id):
		return "is not valid UTF-8", 0
	case len(id) > MaxCallIDLength:
		return fmt.Sprintf("is %d bytes long, more than %d", len(id), MaxCallIDLength), 0
	case id == "." || id == "..":
		return "is a path element, not an id", 0
	}
	for _, r := range id {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)), strings.ContainsRune("-_.:", r):
		case unicode.IsSpace(r):
			return "contains white space", 0
		case unicode.IsControl(r):
			return "contains a control character", 0
		default:
			return "contains a character other than letters, digits, '-', '_', '.' and ':'", r
		}
	}
	return "", 0
}
