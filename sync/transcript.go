package sync

import (
	"strings"

	"github.com/callsync/callsync/store"
)

// ParseTranscript splits a flat transcript ("bot: Hi\nhuman: Hello") into
// utterances. A line that starts with a lowercase word (letters and _)
// followed by ":" (leading blanks allowed) starts an utterance: the word is the speaker, the rest of
// the line, trimmed, its text. Any other non-empty line continues the
// previous utterance after a newline; before the first utterance it stands
// alone with speaker "". Blank lines are skipped and "\r\n" works as "\n".
// A URL ("https://…") at the start of a line is text, not a speaker. Lines
// are numbered from 1.
func ParseTranscript(transcript string) []store.TranscriptLine {
	var out []store.TranscriptLine
	for len(transcript) > 0 {
		var line string
		line, transcript, _ = strings.Cut(transcript, "\n")
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		if speaker, text, ok := utterance(strings.TrimLeft(line, " \t")); ok {
			out = append(out, store.TranscriptLine{LineNo: int32(len(out) + 1), Speaker: speaker, Text: text})
			continue
		}
		text := strings.TrimSpace(line)
		if n := len(out); n > 0 {
			out[n-1].Text += "\n" + text
			continue
		}
		out = append(out, store.TranscriptLine{LineNo: 1, Speaker: "", Text: text})
	}
	return out
}

// utterance splits "speaker: text" where speaker is a lowercase word.
func utterance(line string) (speaker, text string, ok bool) {
	i := 0
	for i < len(line) && (line[i] >= 'a' && line[i] <= 'z' || line[i] == '_') {
		i++
	}
	if i == 0 || i >= len(line) || line[i] != ':' || strings.HasPrefix(line[i:], "://") {
		return "", "", false
	}
	return line[:i], strings.TrimSpace(line[i+1:]), true
}
