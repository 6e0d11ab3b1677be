package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/callsync/callsync/store"
)

// Paths of the operational endpoints `callsync run --http-addr` serves.
const (
	metricsPath = "/metrics"
	healthzPath = "/healthz"
	readyzPath  = "/readyz"
)

// readyTimeout bounds the database checks of /readyz; probes give up sooner
// or later, but never hang.
const readyTimeout = 4 * time.Second

// mountTelemetry registers /metrics, /healthz and /readyz on mux, and the
// queue gauges that /metrics reads from db.
func mountTelemetry(mux *http.ServeMux, db *store.DB, tel *telemetry, logger *slog.Logger) {
	tel.watchQueue(db)
	mux.Handle("GET "+metricsPath, tel.handler(logger))
	mux.HandleFunc("GET "+healthzPath, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.Handle("GET "+readyzPath, readyHandler(db))
}

// readyHandler answers 200 when the database answers and its migrations
// are current, and 503 with the reason otherwise.
func readyHandler(db *store.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := db.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "not ready:", err)
			return
		}
		fmt.Fprintln(w, "ready")
	})
}
