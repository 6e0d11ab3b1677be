package sync

// finalStatuses are the call statuses after which a call no longer changes.
// Everything else, unknown values included, may still change: in-progress,
// queue, pending, ringing, paused, spam, registered, initiated, checking, ...
var finalStatuses = map[string]bool{
	"completed":           true,
	"failed":              true,
	"no-answer":           true,
	"busy":                true,
	"canceled":            true,
	"user-canceled":       true,
	"hangup_on_voicemail": true,
	"left_voicemail":      true,
}

// IsFinal reports whether a call with this status is finished. The API mixes
// separators (no-answer, hangup_on_voicemail), so values compare literally.
func IsFinal(status string) bool {
	return finalStatuses[status]
}
