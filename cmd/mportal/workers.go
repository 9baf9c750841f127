package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// workers runs the background loops of one instance and stops them on Close. Loops here must be
// safe to run on every replica at once (idempotent deletes, Claims); work that must happen once
// across replicas coordinates through the database, never through this process.
type workers struct {
	cancel context.CancelFunc
	ctx    context.Context
	wg     sync.WaitGroup
}

func newWorkers() *workers {
	ctx, cancel := context.WithCancel(context.Background())
	return &workers{ctx: ctx, cancel: cancel}
}

// every runs fn every interval until stop. A failing run is logged by fn's caller and retried at
// the next tick.
func (w *workers) every(interval time.Duration, fn func(ctx context.Context)) {
	w.everyAfter(interval, interval, fn)
}

// maintenanceStart is how soon after start the hourly maintenance (purges, clean-ups) first
// runs: a random delay in [1, 6) minutes, so replicas started together spread their runs, and a
// deployment restarted more often than hourly (rolling updates) still runs them.
func maintenanceStart() time.Duration {
	return time.Minute + rand.N(5*time.Minute)
}

// firstMaintenance is maintenanceStart; tests shorten it.
var firstMaintenance = maintenanceStart

// hourly runs fn first after maintenanceStart and then every hour.
func (w *workers) hourly(fn func(ctx context.Context)) {
	w.everyAfter(firstMaintenance(), time.Hour, fn)
}

// everyAfter runs fn after first and then every interval until stop.
func (w *workers) everyAfter(first, interval time.Duration, fn func(ctx context.Context)) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-w.ctx.Done():
				return
			case <-t.C:
				fn(w.ctx)
				t.Reset(interval)
			}
		}
	}()
}

// run runs fn once in the background until stop; fn must return soon after its ctx ends.
func (w *workers) run(fn func(ctx context.Context)) {
	w.wg.Go(func() { fn(w.ctx) })
}

// stop cancels every loop and waits for the running ones to return.
func (w *workers) stop() {
	w.cancel()
	w.wg.Wait()
}

// startTrainingWorkers runs this instance's training-video transcoders (MPORTAL_TRAINING_WORKERS,
// default one ffmpeg at a time, niced). Every replica may run them: jobs are leased through the
// database. With 0 this instance only serves the API and never transcodes.
func (m *Main) startTrainingWorkers() {
	if m.Config.TrainingWorkers > 0 {
		m.workers.run(m.training.Work)
	}
	// Every instance pushes required training and its reminders: each push is claimed in the
	// database first.
	m.workers.every(5*time.Minute, func(ctx context.Context) {
		if _, err := m.trainingNotices.RunOnce(ctx); err != nil && ctx.Err() == nil {
			m.Logger.Warn("training: notices", "err", err)
		}
	})
}
