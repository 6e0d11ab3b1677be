package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// httpServer is the HTTP side of `callsync run`: the endpoints that
// run.go registers on mux, served on one address.
type httpServer struct {
	srv *http.Server
	ln  net.Listener
}

// listenHTTP listens on addr and serves mux until shutdown. It returns an
// error, naming the address, when it cannot listen.
func listenHTTP(addr string, mux *http.ServeMux, logger *slog.Logger) (*httpServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, usagef("--http-addr (HTTP_ADDR) %q: %v", addr, err)
	}
	s := &httpServer{ln: ln, srv: &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http server stopped", "err", err)
		}
	}()
	logger.Info("serving http", "addr", ln.Addr().String())
	return s, nil
}

// shutdown stops accepting requests and waits, up to ctx, for the ones in flight.
func (s *httpServer) shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("stop http server: %w", err)
	}
	return nil
}
