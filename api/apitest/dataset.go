package apitest

import (
	"slices"
	"sync"
	"time"
)

// dataset is the server's calls, indexed by ID and, per model, ordered as
// the list endpoint serves them (newest first, then call_id).
type dataset struct {
	mu      sync.RWMutex
	byID    map[string]*Call
	byModel map[string][]*Call
}

func newDataset() *dataset {
	return &dataset{byID: map[string]*Call{}, byModel: map[string][]*Call{}}
}

// load adds or replaces many calls, sorting each model once.
func (d *dataset) load(calls []Call) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(calls) < 64 {
		for _, c := range calls {
			d.putLocked(c)
		}
		return
	}
	latest := make(map[string]int, len(calls)) // the last call with an ID wins
	for i, c := range calls {
		latest[c.id] = i
	}
	for id := range latest { // remove replaced calls while the slices are sorted
		if old, ok := d.byID[id]; ok {
			d.removeLocked(old)
		}
	}
	touched := map[string]bool{}
	for i, c := range calls {
		if latest[c.id] != i {
			continue
		}
		p := &c
		d.byID[c.id] = p
		d.byModel[c.modelID] = append(d.byModel[c.modelID], p)
		touched[c.modelID] = true
	}
	for m := range touched {
		slices.SortFunc(d.byModel[m], callBefore)
	}
}

// put adds c, replacing a call with the same ID.
func (d *dataset) put(c Call) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.putLocked(c)
}

func (d *dataset) putLocked(c Call) {
	if old, ok := d.byID[c.id]; ok {
		d.removeLocked(old)
	}
	p := &c
	d.byID[c.id] = p
	s := d.byModel[c.modelID]
	i, _ := slices.BinarySearchFunc(s, p, callBefore)
	d.byModel[c.modelID] = slices.Insert(s, i, p)
}

// remove deletes the call with this ID and reports whether it was there.
func (d *dataset) remove(id string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.byID[id]
	if ok {
		d.removeLocked(c)
	}
	return ok
}

func (d *dataset) removeLocked(c *Call) {
	delete(d.byID, c.id)
	s := d.byModel[c.modelID]
	if i, ok := slices.BinarySearchFunc(s, c, callBefore); ok {
		s = slices.Delete(s, i, i+1)
	}
	if len(s) == 0 {
		delete(d.byModel, c.modelID)
		return
	}
	d.byModel[c.modelID] = s
}

// get returns the call with this ID.
func (d *dataset) get(id string) (*Call, bool) {
	d.mu.RLock()
	c, ok := d.byID[id]
	d.mu.RUnlock()
	return c, ok
}

// window is a start-time filter: from inclusive, to exclusive; a zero bound
// is open.
type window struct {
	from, to time.Time
}

// page returns how many calls of model match w and the list JSON of those
// in [offset, offset+limit). The returned slices are immutable.
func (d *dataset) page(model string, w window, offset, limit int) (total int, calls [][]byte) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	s := d.byModel[model]
	lo, hi := 0, len(s)
	if !w.to.IsZero() { // newest first: skip calls at or after to
		lo, _ = slices.BinarySearchFunc(s, w.to, func(c *Call, t time.Time) int {
			if c.start.Before(t) {
				return 1
			}
			return -1
		})
	}
	if !w.from.IsZero() { // stop at the first call before from
		hi, _ = slices.BinarySearchFunc(s, w.from, func(c *Call, t time.Time) int {
			if c.start.Before(t) {
				return 1
			}
			return -1
		})
	}
	if hi < lo {
		hi = lo
	}
	total = hi - lo
	start := min(lo+offset, hi)
	end := min(start+limit, hi)
	calls = make([][]byte, 0, end-start)
	for _, c := range s[start:end] {
		calls = append(calls, c.listJSON)
	}
	return total, calls
}

// models returns the model IDs that have calls, sorted.
func (d *dataset) models() []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	ms := make([]string, 0, len(d.byModel))
	for m := range d.byModel {
		ms = append(ms, m)
	}
	slices.Sort(ms)
	return ms
}

// all returns every call, newest first, then by call_id.
func (d *dataset) all() []Call {
	d.mu.RLock()
	ps := make([]*Call, 0, len(d.byID))
	for _, c := range d.byID {
		ps = append(ps, c)
	}
	d.mu.RUnlock()
	slices.SortFunc(ps, callBefore)
	out := make([]Call, len(ps))
	for i, p := range ps {
		out[i] = *p
	}
	return out
}
