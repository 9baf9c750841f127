package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// metricsServer serves Prometheus metrics on the operators' own listener (MPORTAL_METRICS_ADDR),
// apart from the API port that phones and the internet reach.
type metricsServer struct {
	listener net.Listener
	server   *http.Server
	served   chan error
}

// start serves h on the bound listener in the background.
func (s *metricsServer) start(h http.Handler) {
	s.server = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second}
	s.served = make(chan error, 1)
	go func() { s.served <- s.server.Serve(s.listener) }()
}

// stop closes the listener, and the server if it was started; scrapes are short, so it does
// not wait for them beyond a few seconds.
func (s *metricsServer) stop() error {
	if s.server == nil {
		return s.listener.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.server.Shutdown(ctx)
	if serveErr := <-s.served; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return err
}
