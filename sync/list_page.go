package sync

import (
	"log/slog"

	"github.com/callsync/callsync/api"
)

// maxTotalRecords is the largest total_records taken from a list page. An
// agent with more calls in one window than this does not exist; a larger
// count is a fault of the sender and is treated as unknown, so that it
// neither overflows a checkpoint nor sends a window to be read again.
const maxTotalRecords = 100_000_000

// plausibleTotal returns total, or -1 (unknown) when it is larger than
// maxTotalRecords.
func plausibleTotal(total int) int {
	if total > maxTotalRecords {
		return -1
	}
	return total
}

// screenedPage is what screenPage kept of a list page, and what it left
// out.
type screenedPage struct {
	calls      []*api.Call
	rejected   int // entries whose call id no intake accepts
	duplicates int // entries of an id listed before in the same page
}

// screenPage applies to a list page the rules every list intake shares
// (poll, backfill, verify --fix): an implausible total_records becomes
// unknown; entries whose call id fails ValidateCallID are left out (a NUL
// removed later would make two ids one); of the entries that share an id,
// the most complete is kept (see completeness), the later one on a tie,
// in the place of the first. It logs what it left out by count and fault,
// never the ids or their content.
func screenPage(page *api.CallPage, log *slog.Logger, model string, offset int) screenedPage {
	if t := plausibleTotal(page.Total); t != page.Total {
		log.Warn("list page's total_records is implausible; taken as unknown", modelIDAttr(model), "offset", offset)
		page.Total = t
	}
	var out screenedPage
	out.calls = make([]*api.Call, 0, len(page.Calls))
	at := make(map[string]int, len(page.Calls))
	for _, c := range page.Calls {
		if fault, _ := callIDFault(c.ID); fault != "" {
			out.rejected++
			log.Warn("list entry skipped: its call id "+fault, modelIDAttr(model), "offset", offset)
			continue
		}
		i, seen := at[c.ID]
		if !seen {
			at[c.ID] = len(out.calls)
			out.calls = append(out.calls, c)
			continue
		}
		out.duplicates++
		if completeness(c) >= completeness(out.calls[i]) {
			out.calls[i] = c
		}
	}
	if out.duplicates > 0 {
		log.Warn("list page lists calls twice; kept the most complete entry of each", modelIDAttr(model),
			"offset", offset, "duplicates", out.duplicates)
	}
	return out
}

// completeness ranks entries of one call: a final status over any other,
// then one that says when the call ended, then the larger payload.
func completeness(c *api.Call) int {
	n := min(len(c.Raw), 1<<20)
	if c.TelephonyEnd != nil {
		n += 1 << 21
	}
	if c.Status != nil && IsFinal(*c.Status) {
		n += 1 << 22
	}
	return n
}
