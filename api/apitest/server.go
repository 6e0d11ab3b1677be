package apitest

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options configures a Server. The zero value serves no calls, without
// authentication, faults or rate limit, on an ephemeral loopback port.
type Options struct {
	// Calls are served from the start (later ones replace earlier ones with
	// the same ID).
	Calls []Call
	// APIKey, when set, must be sent as "Authorization: Bearer <APIKey>";
	// otherwise the server answers 401 {"detail":"Not authenticated"}.
	APIKey string
	// Faults are injected at random; see Faults.
	Faults Faults
	// RateLimit, when enabled, answers 429 beyond a request rate.
	RateLimit RateLimit
	// Seed seeds the fault draws and request IDs.
	Seed uint64
	// Addr is the address to listen on. Empty means "127.0.0.1:0".
	Addr string
	// Clock, when set, is the server's clock: for the counters, the rate
	// limit and a live workspace, so tests can drive time (a Clock's Now
	// crosses a window without waiting for it). Nil means time.Now.
	Clock func() time.Time
	// Live, when set, makes the server a live workspace (see LiveOptions);
	// it serves Calls too. Its clock starts with Server.Live().Start().
	Live *LiveOptions
}

// Server is a running fake Synthflow API. Its methods are safe for
// concurrent use, so a test may change faults, add calls or read counters
// while clients are running.
type Server struct {
	// URL is the API base URL, "http://127.0.0.1:PORT/v2", ready to use as a
	// client's base URL.
	URL string

	ln       net.Listener
	hs       *http.Server
	data     *dataset
	counters *Counters
	scripts  scripts
	limiter  limiter
	seed     uint64
	seq      atomic.Uint64
	cfg      atomic.Pointer[config]
	cfgMu    sync.Mutex // serializes setters (copy-on-write of cfg)
	listHook atomic.Pointer[func(ListRequest)]
	deleted  sync.Map // model ID → true: agents deleted with DeleteAssistant
	live     *Live    // nil unless Options.Live
	rec      recordings

	done     chan struct{}
	closeMu  sync.RWMutex
	closed   bool
	inflight sync.WaitGroup
}

// config is the runtime-changeable part of Options, swapped atomically.
type config struct {
	apiKey string
	faults Faults
	rate   RateLimit
}

// NewServer starts a server on opts.Addr (default an ephemeral port on
// 127.0.0.1) and returns it serving; call Close when done. It returns an
// error if the address cannot be listened on.
func NewServer(opts Options) (*Server, error) {
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("apitest: listen on %s: %w", addr, err)
	}
	clock := opts.Clock
	if clock == nil {
		clock = time.Now
	}
	s := &Server{
		URL:      "http://" + ln.Addr().String() + "/v2",
		ln:       ln,
		data:     newDataset(),
		counters: newCounters(clock),
		seed:     opts.Seed,
		done:     make(chan struct{}),
	}
	if opts.Live != nil {
		if s.live, err = newLive(s, *opts.Live, clock); err != nil {
			_ = ln.Close()
			return nil, err
		}
	}
	s.cfg.Store(&config{apiKey: opts.APIKey, faults: opts.Faults, rate: opts.RateLimit})
	s.data.load(opts.Calls)
	s.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0), // injected faults make net/http complain
	}
	go func() { _ = s.hs.Serve(ln) }() // returns ErrServerClosed on Close
	return s, nil
}

// Close stops the server: it closes the listener and every connection,
// ends latency sleeps early and waits for running handlers to return.
// Calling it again does nothing.
func (s *Server) Close() {
	s.closeMu.Lock()
	if s.closed {
		s.closeMu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.closeMu.Unlock()
	_ = s.hs.Close()
	s.inflight.Wait()
}

// update applies f to a copy of the configuration and publishes it.
func (s *Server) update(f func(c *config)) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	c := *s.cfg.Load()
	f(&c)
	s.cfg.Store(&c)
}

// SetFaults replaces the random faults; requests already sleeping keep
// the latency they drew.
func (s *Server) SetFaults(f Faults) { s.update(func(c *config) { c.faults = f }) }

// Faults returns the random faults in effect.
func (s *Server) Faults() Faults { return s.cfg.Load().faults }

// SetRateLimit replaces the rate limit; a disabled limit forgets the
// requests it has seen.
func (s *Server) SetRateLimit(rl RateLimit) { s.update(func(c *config) { c.rate = rl }) }

// SetAPIKey replaces the required API key; "" turns authentication off.
func (s *Server) SetAPIKey(key string) { s.update(func(c *config) { c.apiKey = key }) }

// Live returns the server's live workspace, or nil when Options.Live was
// not set.
func (s *Server) Live() *Live { return s.live }

// Counters returns the server's request counters.
func (s *Server) Counters() *Counters { return s.counters }

// Add adds calls, replacing calls with the same ID. Calls added while a
// client pages through a list appear in the pages it has not read yet,
// as on the live API.
func (s *Server) Add(calls ...Call) { s.data.load(calls) }

// AddJSON parses raw call JSON with ParseCall and adds the call, returning
// it. It returns ParseCall's error.
func (s *Server) AddJSON(data []byte) (Call, error) {
	c, err := ParseCall(data)
	if err != nil {
		return Call{}, err
	}
	s.data.put(c)
	return c, nil
}

// Remove deletes the calls with these IDs and returns how many existed.
// Later GETs of them answer 404.
func (s *Server) Remove(ids ...string) int {
	n := 0
	for _, id := range ids {
		if s.data.remove(id) {
			n++
		}
	}
	return n
}

// Call returns the call with this ID and whether the server has it.
func (s *Server) Call(id string) (Call, bool) {
	c, ok := s.data.get(id)
	if !ok {
		return Call{}, false
	}
	return *c, true
}

// Calls returns every call the server holds, newest first, then by call_id.
func (s *Server) Calls() []Call { return s.data.all() }

// CallIDs returns the IDs of every call, in the order of Calls.
func (s *Server) CallIDs() []string {
	calls := s.data.all()
	ids := make([]string, len(calls))
	for i, c := range calls {
		ids[i] = c.id
	}
	return ids
}

// Models returns the model IDs that have calls, sorted.
func (s *Server) Models() []string { return s.data.models() }

// Assistants returns the model IDs that GET /v2/assistants lists, sorted:
// those of Models, and a live workspace's agents, that DeleteAssistant has
// not deleted.
func (s *Server) Assistants() []string {
	ms := s.models()
	return slices.DeleteFunc(ms, func(m string) bool {
		_, gone := s.deleted.Load(m)
		return gone
	})
}

// models returns the model IDs that have calls and, in a live
// workspace, its agents, sorted.
func (s *Server) models() []string {
	ms := s.data.models()
	if s.live == nil {
		return ms
	}
	for i := range s.live.opts.Agents {
		m := "agent-" + strconv.Itoa(i)
		if j, found := slices.BinarySearch(ms, m); !found {
			ms = slices.Insert(ms, j, m)
		}
	}
	return ms
}

// DeleteAssistant makes GET /v2/assistants stop listing the model, as
// deleting an agent in Synthflow does; its calls stay.
func (s *Server) DeleteAssistant(modelID string) { s.deleted.Store(modelID, true) }

// ListRequest describes a valid GET /v2/calls request, as passed to the
// hook set with OnList.
type ListRequest struct {
	ModelID       string
	Limit, Offset int
	// From and To are the parsed from_date and to_date; zero if absent.
	From, To time.Time
}

// OnList sets fn to run before each valid list request is answered, on
// the request's goroutine and without locks held, so it may call Add or
// Remove to emulate calls arriving while a client pages. nil removes it.
func (s *Server) OnList(fn func(ListRequest)) {
	if fn == nil {
		s.listHook.Store(nil)
		return
	}
	s.listHook.Store(&fn)
}

// ServeHTTP answers one request; Server is an http.Handler, so it can also
// be mounted on another server (Close then only ends its sleeps).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.closeMu.RLock()
	if s.closed {
		s.closeMu.RUnlock()
		panic(http.ErrAbortHandler) // closing: drop the connection quietly
	}
	s.inflight.Add(1)
	s.closeMu.RUnlock()
	defer s.inflight.Done()
	if strings.HasPrefix(r.URL.Path, recordingFilesPath) {
		s.recordingFile(w, r) // the signed link's host: no API key, no faults
		return
	}

	n := s.seq.Add(1)
	cfg := s.cfg.Load()
	ep, id, routed := route(r)
	x := &exchange{s: s, w: w, r: r, n: n, ep: ep, id: id}
	x.i = s.counters.arrive(ep, id)

	if d := cfg.faults.latency(s.draw(n, saltLatency)); !s.sleep(r.Context(), d) {
		x.abandon()
	}
	if s.live != nil {
		s.live.advance() // the calls as they are when the answer is made
	}
	switch {
	case cfg.apiKey != "" && !authorized(r, cfg.apiKey):
		x.reply(http.StatusUnauthorized, nil, bodyNotAuthenticated)
		return
	}
	// The budget counts every request of a key, whatever its route.
	if ok, wait := s.limiter.allow(s.counters.now(), cfg.rate, bearer(r)); !ok {
		x.tooManyRequests(wait, cfg.rate)
		return
	}
	switch {
	case !routed:
		x.reply(http.StatusNotFound, nil, bodyRouteNotFound)
		return
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		x.reply(http.StatusMethodNotAllowed, http.Header{"Allow": {"GET"}}, bodyMethodNotAllowed)
		return
	}
	if step, ok := s.scripts.next(x); ok {
		s.counters.scripted()
		if !s.sleep(r.Context(), step.Delay) {
			x.abandon()
		}
		if x.step(step, cfg.faults.RetryAfter) {
			return
		}
	} else if f := cfg.faults.pick(ep, s.draw(n, saltFault)); f != FaultNone {
		if x.fault(f, cfg.faults.RetryAfter) {
			return
		}
	}
	switch ep {
	case EndpointGetCall:
		s.getCall(x)
	case EndpointListCalls:
		s.listCalls(x)
	case EndpointAssistants:
		s.listAssistants(x)
	case EndpointRecording:
		s.recordingLink(x)
	}
}

// sleep waits d, or less if the request ends or the server closes, and
// reports whether it waited the full time.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// draw returns a reproducible number in [0, 1) for request n and a purpose.
func (s *Server) draw(n, salt uint64) float64 {
	return float64(mix(s.seed^mix(n^salt))>>11) / (1 << 53)
}

const (
	saltLatency uint64 = 0x4c4154454e4359 // "LATENCY"
	saltFault   uint64 = 0x4641554c54     // "FAULT"
	saltKind    uint64 = 0x4b494e44       // "KIND"
)

// mix is the splitmix64 finalizer.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
