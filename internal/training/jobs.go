package training

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// The job queue. A job is a training_jobs document in state "queued"; a worker runs it while
// holding its lease, a training_leases document "<job>:<epoch>" that only a Claim (an insert
// guarded by the _id index, the one write that is atomic on the embedded FerretDB as on MongoDB)
// creates. The holder renews its lease every third of LeaseTTL and expires it when it stops; a
// crashed holder's lease runs out and the next worker claims epoch+1. So any number of replicas
// share the queue, each job runs on one worker at a time, and a job cut short by a restart is
// picked up again.

// maxAttempts bounds how often a job is tried after failures that are not the video's fault
// (storage or database unavailable); the video then fails with the last reason.
const maxAttempts = 3

// retryDelay is how long after its attempts-th attempt failed a job that failed for a
// reason not the video's (storage or the database unreachable) is tried again: 30 s, then 2 min,
// so that a restart of MinIO or the database does not use up the attempts. Before, the attempts
// followed each other within milliseconds, and a 3 s MinIO restart failed the video for good.
func retryDelay(attempts int) time.Duration {
	if attempts <= 1 {
		return 30 * time.Second
	}
	return 2 * time.Minute
}

// maxEpochs bounds the probing of a job's lease epochs; each one is a crashed or stopped holder.
const maxEpochs = 1000

type leaseDoc struct {
	ID        string    `bson:"_id"`
	Holder    string    `bson:"holder"`
	ExpiresAt time.Time `bson:"expires_at"`
}

func (s *Service) leaseTTL() time.Duration {
	if s.LeaseTTL > 0 {
		return s.LeaseTTL
	}
	return time.Minute
}

func (s *Service) pollInterval() time.Duration {
	if s.PollInterval > 0 {
		return s.PollInterval
	}
	return 5 * time.Second
}

// holderNames gives each Service without a Holder its own random name.
var holderNames sync.Map // *Service -> string

func (s *Service) holder() string {
	if s.Holder != "" {
		return s.Holder
	}
	name, _ := holderNames.LoadOrStore(s, "worker-"+newID())
	return name.(string)
}

func leaseID(job string, epoch int) string { return job + ":" + strconv.Itoa(epoch) }

// Work runs this instance's transcoding workers (Workers of them, default one) until ctx ends,
// and collects garbage (objects of replaced and deleted videos) between jobs. A job in progress
// when ctx ends is stopped (ffmpeg is killed) and its lease expired, so another worker picks it
// up at once.
func (s *Service) Work(ctx context.Context) {
	n := max(1, s.Workers)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.workLoop(ctx, i == 0)
		}()
	}
	wg.Wait()
}

func (s *Service) workLoop(ctx context.Context, collector bool) {
	t := time.NewTicker(s.pollInterval())
	defer t.Stop()
	for {
		ran, err := s.RunOne(ctx)
		if err != nil && ctx.Err() == nil {
			s.log().Warn("training: run a job", "error", err.Error())
		}
		if collector {
			if err := s.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
				s.log().Warn("training: collect garbage", "error", err.Error())
			}
		}
		if ran && err == nil {
			continue // more may be queued
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOne runs the oldest queued job whose lease it can take and reports whether it ran one.
func (s *Service) RunOne(ctx context.Context) (bool, error) {
	cur, err := s.coll(jobsColl).Find(ctx, bson.D{{Key: "state", Value: jobQueued}},
		options.Find().SetSort(bson.D{{Key: "created_at", Value: 1}}).SetLimit(20))
	if err != nil {
		return false, fmt.Errorf("find queued jobs: %w", mongodb.Translate(err, "job"))
	}
	var jobs []jobDoc
	if err := cur.All(ctx, &jobs); err != nil {
		return false, fmt.Errorf("find queued jobs: %w", mongodb.Translate(err, "job"))
	}
	now := s.Now.UTC()
	for _, j := range jobs {
		if j.FailedAt != nil && now.Before(j.FailedAt.Add(retryDelay(j.Attempts))) {
			continue // failed for a reason not its own: wait before the next attempt
		}
		l, err := s.acquire(ctx, j.ID)
		if err != nil {
			return false, err
		}
		if l == nil {
			continue // another worker has it
		}
		err = s.runJob(l.ctx, j.ID)
		l.release()
		if errors.Is(err, errNotQueued) {
			continue
		}
		return true, err
	}
	return false, nil
}

// lease is a worker's hold on one job.
type lease struct {
	s       *Service
	id      string
	ctx     context.Context // cancelled when the lease is lost or released
	cancel  context.CancelFunc
	stopped chan struct{}
}

// acquire takes the lease on job, or returns nil when someone holds a live one.
func (s *Service) acquire(ctx context.Context, job string) (*lease, error) {
	coll := s.coll(leasesColl)
	for epoch := 1; epoch <= maxEpochs; epoch++ {
		id := leaseID(job, epoch)
		expires := s.Now.UTC().Add(s.leaseTTL())
		won, err := mongodb.Claim(ctx, coll, id, bson.D{{Key: "holder", Value: s.holder()}, {Key: "expires_at", Value: expires}})
		if err != nil {
			return nil, err
		}
		if won {
			lctx, cancel := context.WithCancel(ctx)
			l := &lease{s: s, id: id, ctx: lctx, cancel: cancel, stopped: make(chan struct{})}
			go l.renew(expires)
			return l, nil
		}
		var held leaseDoc
		err = coll.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&held)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return nil, nil // its holder just finished the job and removed its leases
		}
		if err != nil {
			return nil, fmt.Errorf("read lease %s: %w", id, mongodb.Translate(err, "lease"))
		}
		if held.ExpiresAt.After(s.Now.UTC()) {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("job %s: more than %d lease epochs", job, maxEpochs)
}

// renew extends the lease every third of its TTL; when it cannot before the lease runs out,
// someone may take the job over, so the work is stopped (l.ctx cancelled).
func (l *lease) renew(expires time.Time) {
	defer close(l.stopped)
	t := time.NewTicker(l.s.leaseTTL() / 3)
	defer t.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case <-t.C:
		}
		if !l.s.Now.UTC().Before(expires) {
			l.s.log().Warn("training: job lease lost", "lease", l.id)
			l.cancel()
			return
		}
		next := l.s.Now.UTC().Add(l.s.leaseTTL())
		_, err := l.s.coll(leasesColl).UpdateOne(l.ctx, bson.D{{Key: "_id", Value: l.id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: next}}}})
		if err == nil {
			expires = next
		}
	}
}

// release stops the work and renewal and expires the lease, so the job (if still queued) can be
// taken at once.
func (l *lease) release() {
	l.cancel()
	<-l.stopped
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = l.s.coll(leasesColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: l.id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expires_at", Value: l.s.Now.UTC()}}}})
}
