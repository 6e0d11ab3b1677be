package sync

import (
	"fmt"
	"time"
)

// Window is one agent's calls started in [From, To).
type Window struct {
	ModelID  string
	From, To time.Time
}

func (w Window) String() string {
	return fmt.Sprintf("model %s [%s, %s)", w.ModelID, w.From.Format(time.RFC3339), w.To.Format(time.RFC3339))
}

// Windows splits [from, to) for each model into windows whose bounds are
// multiples of size since the zero time (for 24 h: UTC midnights), the first
// and last cut to the range, and returns them model by model, oldest first.
// Bounds are truncated to milliseconds, the API's precision. It returns an
// error when the range is empty or size is under a millisecond.
func Windows(models []string, from, to time.Time, size time.Duration) ([]Window, error) {
	from, to = from.UTC().Truncate(time.Millisecond), to.UTC().Truncate(time.Millisecond)
	if size < time.Millisecond {
		return nil, fmt.Errorf("window %s: want at least 1ms", size)
	}
	if !from.Before(to) {
		return nil, fmt.Errorf("range [%s, %s) is empty", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	var spans [][2]time.Time
	for start := from; start.Before(to); {
		end := start.Truncate(size).Add(size)
		if end.After(to) {
			end = to
		}
		spans = append(spans, [2]time.Time{start, end})
		start = end
	}
	out := make([]Window, 0, len(models)*len(spans))
	for _, m := range models {
		for _, s := range spans {
			out = append(out, Window{ModelID: m, From: s[0], To: s[1]})
		}
	}
	return out, nil
}
