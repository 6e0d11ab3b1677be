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
// error says what is wrong and quotes the id safely.
func ValidateCallID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("call id is empty")
	case !utf8.ValidString(id):
		return fmt.Errorf("call id %q is not valid UTF-8", id)
	case len(id) > MaxCallIDLength:
		return fmt.Errorf("call id %.40q… is %d bytes long, more than %d", id, len(id), MaxCallIDLength)
	case id == "." || id == "..":
		return fmt.Errorf("call id %q is a path element, not an id", id)
	}
	for _, r := range id {
		switch {
		case r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r)), strings.ContainsRune("-_.:", r):
		case unicode.IsSpace(r):
			return fmt.Errorf("call id %q contains white space", id)
		case unicode.IsControl(r):
			return fmt.Errorf("call id %q contains a control character", id)
		default:
			return fmt.Errorf("call id %q contains %q: ids hold only letters, digits, '-', '_', '.' and ':'", id, r)
		}
	}
	return nil
}
