package sync

import (
	"time"

	"github.com/callsync/callsync/store"
)

// maxFutureSkew is how far past now a call's start time may lie: clocks
// differ, and a call's start is set as it begins. A later start is a fault
// of the sender, and trusting it would harm more than the call: retention
// counts from it (a call of year 9999 is never pruned), the poll watermark
// never moves back (every later call would be missed), and the daily
// views would show a day that has not come.
const maxFutureSkew = time.Hour

// earliestStart is before any call Synthflow can have made: an earlier
// start (epoch 0, a seconds/milliseconds mix-up) is as wrong.
var earliestStart = time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)

// plausibleStart drops row's start time when it lies outside
// [earliestStart, now+maxFutureSkew], and returns a note saying so ("" when
// it is kept). Without a start the store keeps the one it has, retention
// counts from the call's first sync, and a later fetch may still store a
// good one.
func plausibleStart(row *store.Call, now time.Time) string {
	if row.StartedAt == nil {
		return ""
	}
	if t := *row.StartedAt; t.After(now.Add(maxFutureSkew)) || t.Before(earliestStart) {
		row.StartedAt = nil
		return "start_time: in the future or before 2015, not stored"
	}
	return ""
}
