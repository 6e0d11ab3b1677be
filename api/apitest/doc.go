// Package apitest is a fake Synthflow Platform API server, in the spirit of
// net/http/httptest, shared by callsync's tests, benchmarks, the demo command
// and the chaos test. It uses only the standard library and does not import
// testing, so a normal binary can start it in-process.
//
// The server speaks the parts of the API that callsync reads, with the quirks
// documented in the API reference:
//
//	GET /v2/calls/{call_id}            one call, wrapped in the list envelope
//	GET /v2/calls?model_id=…&limit=…   a page of calls (list field set)
//	GET /v2/assistants?limit=…         the models (agents) that have calls
//
// Calls come from Generate, which builds a deterministic, realistic data set
// from a seed (every type variation of the reference appears), or from raw
// JSON through ParseCall. Each Call keeps its canonical fields once and its
// rendered bodies precomputed, so serving a call does not marshal anything.
//
// Faults make clients earn their retries: random latency, 5xx, 429 (with or
// without Retry-After), truncated bodies, invalid bodies and connection
// resets, drawn from a seeded source; scripted per-call response sequences;
// and a sliding-window rate limit like the real 30 requests/minute. Counters
// record every request so tests can prove what a client did: how often each
// call was fetched and the most requests seen in any window.
//
// A live workspace (Options.Live) makes the calls happen over time: they
// start at a given rate on a number of agents, stay in-progress for a
// while, end with a final status, and their signed post-call webhooks go
// out a moment later (some lost, if asked); lists may lag calls' starts.
// With LiveBudget as the rate limit the server answers a bare 429 beyond N
// requests of a key in any (workspace) minute. An injected clock
// (Options.Clock) lets tests drive all of it; a time scale compresses it.
//
// A minimal test:
//
//	srv, err := apitest.NewServer(apitest.Options{
//		Calls:  apitest.Generate(apitest.GenerateOptions{Seed: 1, Calls: 200}),
//		APIKey: "key",
//	})
//	if err != nil {
//		t.Fatal(err)
//	}
//	defer srv.Close()
//	// point the client under test at srv.URL (http://127.0.0.1:PORT/v2)
package apitest
