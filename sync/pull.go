package datasync

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// PullStream is a prepared pull: the cursor, the user's keys and the tables to read are fixed,
// and WriteTo streams the response. Splitting the two lets the HTTP handler answer a problem
// for anything that fails before the first byte.
type PullStream struct {
	e          *Engine
	base       Query
	fullResync bool
	tables     []Table
	read       []bool // per table: false when nothing the user sees changed since the cursor
	whole      []bool // per table: send it as a first sync would (see Migrate)
	// per table: whether the index knows exactly which records changed (Query.Exact), and those
	changed [][]string
	exact   []bool
}

// Timestamp is the response's timestamp: the device's next last_pulled_at.
func (s *PullStream) Timestamp() int64 { return s.base.Upto }

// FullResync reports whether the device's cursor was older than the tombstone horizon (or
// unknown to this server), so the response is a first sync the app must apply after dropping
// its synced records.
func (s *PullStream) FullResync() bool { return s.fullResync }

// OpenPull prepares p's pull since lastPulledAt (0: first sync). It reads the sequence document
// and, on MongoDB, the change-log entries of other instances; it reads no table. It returns
// unauthorized without a principal, invalid (field last_pulled_at) for a negative cursor and
// unavailable when the database cannot be reached. The timestamp it answers is always at least 1
// (see firstSeq).
func (e *Engine) OpenPull(ctx context.Context, p *auth.Principal, lastPulledAt int64) (*PullStream, error) {
	if p == nil {
		return nil, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if lastPulledAt < 0 {
		return nil, apperr.Field("last_pulled_at", "last_pulled_at must be a timestamp of a previous pull, or 0")
	}
	snap, err := e.lowWater(ctx)
	if err != nil {
		return nil, fmt.Errorf("pull of %s: %w", p.UserID, err)
	}
	if snap.low < firstSeq {
		// A guard: both sequences start at firstSeq and log a legacy write pending at number 1
		// as abandoned at start (TestPullWhileALegacyFirstWriteIsPending). The only correct
		// timestamp below it, 0, is one the app refuses.
		return nil, apperr.New(apperr.Unavailable, "sync is starting up, retry in a moment")
	}
	if snap.low, err = e.catchUp(ctx, lastPulledAt, snap.low); err != nil {
		return nil, fmt.Errorf("pull of %s: %w", p.UserID, err)
	}
	s := &PullStream{e: e, tables: e.registered()}
	since := lastPulledAt
	e.idx.mu.RLock()
	horizon := max(snap.horizon, e.idx.horizon)
	e.idx.mu.RUnlock()
	if since > 0 && (since < horizon || since > snap.n) {
		// Tombstones the device needs may be gone, or the cursor is not one of ours (a restored
		// database): only a first sync is correct.
		since, s.fullResync = 0, true
	}
	static := staticKeys(p)
	granted, gained, lost := e.idx.access(p.UserID, since)
	lost = slices.DeleteFunc(lost, func(k string) bool { return slices.Contains(static, k) })
	slices.Sort(granted)
	s.base = Query{User: p, Keys: append(static, granted...), Since: since, Upto: snap.low}
	if since > 0 {
		s.base.Gained, s.base.Lost = gained, lost
	}
	s.read, s.whole = make([]bool, len(s.tables)), make([]bool, len(s.tables))
	s.changed, s.exact = make([][]string, len(s.tables)), make([]bool, len(s.tables))
	for i, t := range s.tables {
		s.read[i] = since == 0 || len(gained) > 0 || len(lost) > 0 ||
			e.idx.lastChange(t.Name(), append(slices.Clone(s.base.Keys), lost...)) > since
		if s.read[i] && since > 0 && len(gained) == 0 && len(lost) == 0 {
			_, rewritten := t.(Rewriter)
			s.changed[i], s.exact[i] = e.idx.changed(t.Name(), s.base.Keys, since, rewritten)
		}
	}
	return s, nil
}

// WriteTo streams the response to w: {"changes":{<every table>},"timestamp":N[,"full_resync":true]},
// each table as {"created":[],"updated":[<live records>],"deleted":[<ids>]} (see TableWriter).
// An error after the first byte leaves the response truncated, which the app sees as a failed
// pull and retries.
func (s *PullStream) WriteTo(ctx context.Context, w io.Writer) error {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 32<<10)
	}
	if err := writeString(bw, `{"changes":{`); err != nil {
		return err
	}
	for i, t := range s.tables {
		if i > 0 {
			if err := bw.WriteByte(','); err != nil {
				return err
			}
		}
		tw, err := newTableWriter(bw, t.Name())
		if err != nil {
			return err
		}
		if s.read[i] {
			q := s.base
			q.Keys, q.Gained, q.Lost = slices.Clone(q.Keys), slices.Clone(q.Gained), slices.Clone(q.Lost)
			q.Exact, q.Changed = s.exact[i], slices.Clone(s.changed[i])
			if s.whole[i] {
				q.Since, q.Gained, q.Lost, q.Exact, q.Changed = 0, nil, nil, false, nil
			}
			if err := t.Pull(ctx, q, tw); err != nil {
				return fmt.Errorf("pull %s of %s: %w", t.Name(), s.base.User.UserID, err)
			}
		}
		if err := tw.end(); err != nil {
			return err
		}
	}
	tail := `},"timestamp":` + strconv.FormatInt(s.base.Upto, 10)
	if s.fullResync {
		tail += `,"full_resync":true`
	}
	if err := writeString(bw, tail+"}"); err != nil {
		return err
	}
	return bw.Flush()
}

// Pull writes p's changes since lastPulledAt to w in the WatermelonDB pull format (see OpenPull
// and PullStream.WriteTo for the errors).
func (e *Engine) Pull(ctx context.Context, p *auth.Principal, lastPulledAt int64, w io.Writer) error {
	s, err := e.OpenPull(ctx, p, lastPulledAt)
	if err != nil {
		return err
	}
	return s.WriteTo(ctx, w)
}
