package sync_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/callsync/callsync/store"
	callsync "github.com/callsync/callsync/sync"
)

func TestParseTranscript(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []store.TranscriptLine
	}{
		{"Empty", "", nil},
		{"OnlyBlank", "\n \r\n\t\n", nil},
		{"Simple", "bot: Hi\nhuman: Hello", lines("bot", "Hi", "human", "Hello")},
		{"LeadingNewlines", "\n\nbot: Hi", lines("bot", "Hi")},
		{"CRLF", "bot: Hi\r\nhuman: Yo\r\n", lines("bot", "Hi", "human", "Yo")},
		{"TrimsText", "bot:   Hi there   \nhuman:x", lines("bot", "Hi there", "human", "x")},
		{"Continuation", "bot: Hi\nhow are you?\n\n  fine  \nhuman: ok", lines("bot", "Hi\nhow are you?\nfine", "human", "ok")},
		{"TextBeforeFirstSpeaker", "hello\nworld\nbot: Hi", lines("", "hello\nworld", "bot", "Hi")},
		{"AssistantAndUnderscore", "assistant: a\nsome_agent: b", lines("assistant", "a", "some_agent", "b")},
		{"UppercaseIsNotSpeaker", "bot: a\nNote: b", lines("bot", "a\nNote: b")},
		{"DigitIsNotSpeaker", "bot: a\nbot2: b", lines("bot", "a\nbot2: b")},
		{"SpaceBeforeColonIsNotSpeaker", "bot : a", lines("", "bot : a")},
		{"URLIsNotSpeaker", "bot: see\nhttps://x.example", lines("bot", "see\nhttps://x.example")},
		{"EmptyUtterance", "bot:\nhuman: hi", lines("bot", "", "human", "hi")},
		{"LeadingBlanksBeforeSpeaker", "  bot: a", lines("bot", "a")},
		{"Unicode", "human: ¿Qué tal? 你好 👋", lines("human", "¿Qué tal? 你好 👋")},
		{"ColonInText", "human: time is 10:30", lines("human", "time is 10:30")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, callsync.ParseTranscript(tt.in)); diff != "" {
				t.Errorf("ParseTranscript(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParseTranscript_Long(t *testing.T) {
	var b strings.Builder
	for i := range 10000 {
		if i%2 == 0 {
			b.WriteString("bot: line\n")
		} else {
			b.WriteString("human: line\n")
		}
	}
	lines := callsync.ParseTranscript(b.String())
	if len(lines) != 10000 || lines[9999].LineNo != 10000 {
		t.Fatalf("got %d lines, want 10000 numbered to 10000", len(lines))
	}
}

func FuzzParseTranscript(f *testing.F) {
	f.Add("bot: Hi\nhuman: Hello\r\ncontinued\n\n")
	f.Add("\nno speaker\nassistant: x")
	f.Fuzz(func(t *testing.T, in string) {
		lines := callsync.ParseTranscript(in)
		for i, l := range lines {
			if l.LineNo != int32(i+1) {
				t.Fatalf("line %d numbered %d", i, l.LineNo)
			}
			if strings.TrimSpace(l.Text) != l.Text && !strings.Contains(l.Text, "\n") {
				t.Fatalf("text %q not trimmed", l.Text)
			}
			if strings.ContainsRune(l.Speaker, ':') {
				t.Fatalf("speaker %q has a colon", l.Speaker)
			}
		}
	})
}

// lines builds numbered transcript lines from speaker, text pairs.
func lines(pairs ...string) []store.TranscriptLine {
	var out []store.TranscriptLine
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, store.TranscriptLine{LineNo: int32(i/2 + 1), Speaker: pairs[i], Text: pairs[i+1]})
	}
	return out
}
