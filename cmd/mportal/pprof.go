package main

import (
	"net/http"
	"net/http/pprof"
)

// pprofHandler serves Go's runtime profiles at /debug/pprof/ on the loopback listener
// MPORTAL_PPROF_ADDR (off when unset): the way to profile the binary as deployed, under load,
// e.g. `go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=10`. The handlers are
// mounted on a mux of their own, never on http.DefaultServeMux nor on the API or metrics port.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return mux
}
