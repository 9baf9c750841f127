package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	tusd "github.com/tus/tusd/v2/pkg/handler"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/media"
)

// DefaultMaxAge is how long an upload may stay unfinished before CleanupAbandoned deletes it.
const DefaultMaxAge = 24 * time.Hour

// lockWait bounds how long the cleanup worker waits for a request that holds an upload's lock.
const lockWait = 20 * time.Second

// RecordRetention is how long the bookkeeping of a settled upload (completed, rejected or
// abandoned) is kept; CleanupAbandoned then deletes it, so the collection stays small. The
// upload's own URL answers 404 from then on; the object stays with its domain.
const RecordRetention = 7 * 24 * time.Hour

// CleanupAbandoned settles the uploads that were created more than olderThan ago and never
// finished: each one is terminated through tusd's store (the S3 multipart upload is aborted and
// the .info and incomplete-part objects deleted) and recorded as abandoned. On the way it
// finishes uploads whose last byte arrived but whose completion did not (a crash, a failed
// Complete): they get the type check and Complete again, whatever their age. It also forgets
// settled uploads after RecordRetention. It returns how many uploads it deleted. Running it on several replicas at once is safe: terminating twice is
// harmless and Complete is idempotent.
func (s *Service) CleanupAbandoned(ctx context.Context, olderThan time.Duration) (int, error) {
	if err := s.records.purge(ctx, s.now.Stored().Add(-RecordRetention)); err != nil {
		return 0, err
	}
	recs, err := s.records.pending(ctx, s.now.Stored().Add(-olderThan))
	if err != nil {
		return 0, err
	}
	deleted := 0
	var errs []error
	for _, rec := range recs {
		if ctx.Err() != nil {
			return deleted, ctx.Err()
		}
		abandoned, err := s.settle(ctx, rec)
		if err != nil {
			errs = append(errs, fmt.Errorf("upload %s: %w", rec.ID, err))
			continue
		}
		if abandoned {
			deleted++
		}
	}
	return deleted, errors.Join(errs...)
}

// settle finishes or deletes one pending upload and reports whether it deleted it.
func (s *Service) settle(ctx context.Context, rec record) (bool, error) {
	id, err := s.tusID(ctx, rec.ID)
	if apperr.CodeOf(err) == apperr.NotFound {
		// Nothing stored any more (terminated by its owner) or never stored (creation failed).
		return false, s.records.setStatus(ctx, rec.ID, statusAbandoned, s.now.Stored())
	}
	if err != nil {
		return false, err
	}
	// Hold tusd's lock so a PATCH that arrives now waits instead of writing into a deleted upload.
	lock, err := s.locker.NewLock(id)
	if err != nil {
		return false, err
	}
	lockCtx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	if err := lock.Lock(lockCtx, func() {}); err != nil {
		return false, fmt.Errorf("lock: %w", err)
	}
	defer func() { _ = lock.Unlock() }()

	up, err := s.store.GetUpload(ctx, id)
	if err != nil {
		return false, err
	}
	fi, err := up.GetInfo(ctx)
	if err != nil {
		return false, fmt.Errorf("upload info: %w", err)
	}
	if rec.Status == statusFinished || (!fi.SizeIsDeferred && fi.Offset == fi.Size) {
		// The process may have stopped after the last byte, before or after tusd assembled
		// the object (completed the S3 multipart upload); assemble it if that is still to do.
		_, err := s.cfg.Store.Stat(ctx, media.Uploads, ObjectPrefix+"/"+rec.ID)
		if apperr.CodeOf(err) == apperr.NotFound {
			if err := up.FinishUpload(ctx); err != nil {
				return false, fmt.Errorf("assemble: %w", err)
			}
		} else if err != nil {
			return false, err
		}
		err = s.finish(ctx, rec.principal(), fi)
		if refused(err) {
			return true, nil
		}
		return false, err
	}
	if err := s.terminate(ctx, id); err != nil {
		return false, err
	}
	return true, s.records.setStatus(ctx, rec.ID, statusAbandoned, s.now.Stored())
}

// tusID reads the full upload id ("<object id>+<multipart id>") from tusd's .info object.
func (s *Service) tusID(ctx context.Context, objectID string) (string, error) {
	r, err := s.cfg.Store.Open(ctx, media.Uploads, ObjectPrefix+"/"+objectID+".info", 0, -1)
	if err != nil {
		return "", err
	}
	defer r.Close()
	var fi tusd.FileInfo
	if err := json.NewDecoder(io.LimitReader(r, 64<<10)).Decode(&fi); err != nil {
		return "", fmt.Errorf("read .info: %w", err)
	}
	if objectIDOf(fi.ID) != objectID {
		return "", fmt.Errorf("the .info of %s names upload %q", objectID, fi.ID)
	}
	return fi.ID, nil
}
