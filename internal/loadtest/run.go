package loadtest

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

// Run sends load as cfg describes and returns what it measured. It returns an error without
// sending anything for an invalid Config or a non-loopback target. Cancelling ctx ends the run
// early: the report of what was done is returned with ctx's error.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	p, err := cfg.plan()
	if err != nil {
		return nil, err
	}
	client := &fasthttp.HostClient{
		Addr:  p.target.addr,
		IsTLS: p.target.tls,
		Name:  "mportal-loadtest",
		Dial:  loopbackDial(p.timeout),
		// One connection per worker: a worker never waits for another's connection.
		MaxConns:           p.concurrency,
		MaxConnWaitTimeout: p.timeout,
		ReadTimeout:        p.timeout,
		WriteTimeout:       p.timeout,
		// A retried request would be counted once but cost the server twice; errors are data.
		MaxIdemponentCallAttempts: 1,
		RetryIfErr:                func(*fasthttp.Request, int, error) (bool, bool) { return false, false },
		DisablePathNormalizing:    true,
	}
	defer client.CloseIdleConnections()

	runCtx, cancel := context.WithTimeout(ctx, p.duration)
	defer cancel()
	// Workers poll a flag rather than runCtx.Err(), which takes a lock on every request.
	var stop atomic.Bool
	go func() { <-runCtx.Done(); stop.Store(true) }()

	var issued atomic.Int64
	results := make([]workerResult, p.concurrency)
	var wg sync.WaitGroup
	start := time.Now()
	for w := range p.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[w] = p.work(client, p.urls[w%len(p.urls)], &stop, &issued)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	report := newReport(results, elapsed)
	if err := ctx.Err(); err != nil {
		return report, err
	}
	return report, nil
}

// workerResult is what one worker saw.
type workerResult struct {
	latency    histogram
	requests   int64
	errors     int64
	non2xx     int64
	statuses   map[int]int64
	firstError error
}

// work sends requests one after the other until stop is set or the request budget is spent.
func (p *plan) work(client *fasthttp.HostClient, url string, stop *atomic.Bool, issued *atomic.Int64) workerResult {
	r := workerResult{statuses: map[int]int64{}}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(url)
	req.Header.SetMethod(p.method)
	for name, values := range p.headers {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	if p.body != nil {
		req.SetBodyRaw(p.body)
	}
	for !stop.Load() {
		if p.maxRequests > 0 && issued.Add(1) > p.maxRequests {
			break
		}
		resp.Reset()
		began := time.Now()
		err := client.DoTimeout(req, resp, p.timeout)
		took := time.Since(began)
		r.requests++
		if err != nil {
			r.errors++
			if r.firstError == nil {
				r.firstError = err
			}
			continue
		}
		r.latency.record(took)
		status := resp.StatusCode()
		r.statuses[status]++
		if status < 200 || status > 299 {
			r.non2xx++
		}
	}
	return r
}
