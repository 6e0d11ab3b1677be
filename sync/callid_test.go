package sync_test

import (
	"strings"
	"testing"

	callsync "github.com/callsync/callsync/sync"
)

func TestValidateCallID(t *testing.T) {
	for _, id := range []string{
		"1725527007259x327898249603432960",
		"0b9f3a4e-2f1c-4a0e-9d55-6c2b1f7e8a90",
		"call_1.v2:a",
	} {
		if err := callsync.ValidateCallID(id); err != nil {
			t.Errorf("ValidateCallID(%q) = %v, want nil", id, err)
		}
	}
	for id, want := range map[string]string{
		"":                       "empty",
		"a/b":                    `contains '/'`,
		"..":                     "path element",
		".":                      "path element",
		"a?b":                    `contains '?'`,
		"a%2F":                   `contains '%'`,
		"a b":                    "white space",
		"a\tb":                   "white space",
		"a\x00b":                 "control character",
		"a\x7fb":                 "control character",
		"\xff":                   "UTF-8",
		"é":                      `contains 'é'`,
		strings.Repeat("a", 129): "more than 128",
	} {
		err := callsync.ValidateCallID(id)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateCallID(%q) = %v, want an error saying %q", id, err, want)
		}
	}
}

func FuzzValidateCallID(f *testing.F) {
	f.Add("1725527007259x327898249603432960")
	f.Add("../etc/passwd")
	f.Add("a b\x00")
	f.Fuzz(func(t *testing.T, id string) {
		if callsync.ValidateCallID(id) != nil {
			return
		}
		if id == "" || id == "." || id == ".." || len(id) > callsync.MaxCallIDLength {
			t.Fatalf("accepted %q", id)
		}
		if strings.ContainsAny(id, "/?%# \t\r\n\x00") {
			t.Fatalf("accepted %q with a character that needs escaping", id)
		}
	})
}
