package datasync

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// A push is applied in chunks, each one Write with its own sequence number, so that no write
// of a push runs long: a pending write holds every user's cursor back, and a write that outlives
// its lease is reaped and must run again. See sync/README.md, "Bounded writes".

// Details of the records a push lists as unavailable.
const (
	unconfirmedDetail = "the server was too busy to confirm this record; push it again unchanged"
	deferredDetail    = "the push took too long to apply in full and this record was not applied; push it again"
)

// pushKind says which of a pushed table's lists a record came in.
type pushKind int

const (
	pushedCreated pushKind = iota + 1
	pushedUpdated
	pushedDeleted
)

// pushItem is one record of a push. A push is a list of them in the order it is applied:
// tables in registration order and, in each, its created, updated and deleted records.
type pushItem struct {
	table Table
	kind  pushKind
	raw   json.RawMessage // the record as pushed; nil for a deleted record
	id    string          // a deleted record's id
}

func flatten(tables []Table, changes PushChanges) []pushItem {
	var items []pushItem
	for _, t := range tables {
		ch := changes[t.Name()]
		for _, raw := range ch.Created {
			items = append(items, pushItem{table: t, kind: pushedCreated, raw: raw})
		}
		for _, raw := range ch.Updated {
			items = append(items, pushItem{table: t, kind: pushedUpdated, raw: raw})
		}
		for _, id := range ch.Deleted {
			items = append(items, pushItem{table: t, kind: pushedDeleted, id: id})
		}
	}
	return items
}

// recordID returns the item's record id; DecodePush made sure it has one.
func (it pushItem) recordID() string {
	if it.kind == pushedDeleted {
		return it.id
	}
	var r struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(it.raw, &r)
	return r.ID
}

// group splits a chunk into each table's changes, in the chunk's order.
func group(chunk []pushItem) (tables []Table, changes []Changes) {
	for _, it := range chunk {
		if len(tables) == 0 || tables[len(tables)-1].Name() != it.table.Name() {
			tables, changes = append(tables, it.table), append(changes, Changes{})
		}
		ch := &changes[len(changes)-1]
		switch it.kind {
		case pushedCreated:
			ch.Created = append(ch.Created, it.raw)
		case pushedUpdated:
			ch.Updated = append(ch.Updated, it.raw)
		default:
			ch.Deleted = append(ch.Deleted, it.id)
		}
	}
	return tables, changes
}

// chunkResult is what one attempt at a chunk did: the records applied and those refused.
type chunkResult struct {
	count    int
	rejected []storedReject
}

// pushInChunks applies items in writes of at most PushChunk records. The first write takes a
// tenth of that (a blind guess, so a small one); each next one is sized from the last one's
// duration so that it takes about a quarter of the lease (doubling while writes are fast). A write that outlives its lease is
// run again on half as many records or fewer, and after WriteAttempts lost attempts in a row
// its records are rejected as unavailable. Once PushBudget has passed no write starts: the
// records left are listed as unavailable for the device to push again. Committed chunks'
// rejects are stored as they commit; an error (the database failing) returns at once, with
// the chunks before it applied, and the device pushes everything again.
func (e *Engine) pushInChunks(ctx context.Context, p *auth.Principal, items []pushItem, res *PushResult) error {
	most, attempts, target := e.pushChunk(), e.writeAttempts(), e.lease()/4
	size := max(1, most/10)
	deadline := e.Now.UTC().Add(e.pushBudget())
	lost := 0 // attempts in a row that outlived their lease, at pos
	// lostUntil ends the records of every chunk that outlived its lease: they were written under
	// a reaped number, so they are written again as a rerun (Rerun), even once a smaller chunk
	// at their start has gone through.
	lostUntil := 0
	for pos := 0; pos < len(items); {
		if !e.Now.UTC().Before(deadline) {
			e.logger().Warn("sync: push ran out of time; the rest goes back to the device",
				"user", p.UserID, "done", pos, "left", len(items)-pos)
			for _, it := range items[pos:] {
				res.Rejected = append(res.Rejected, RejectedRecord{Table: it.table.Name(), ID: it.recordID(),
					Code: apperr.Unavailable, Detail: deferredDetail})
			}
			return nil
		}
		n := min(size, len(items)-pos)
		chunk := items[pos : pos+n]
		start := e.Now.UTC()
		cctx := ctx
		if pos < lostUntil {
			cctx = rerunning(ctx) // these records were in a chunk that outlived its lease
		}
		out, kept, err := e.pushChunkOnce(cctx, p, chunk)
		if err != nil {
			return err
		}
		size = nextChunkSize(n, e.Now.UTC().Sub(start), target, most)
		if !kept {
			lostUntil = max(lostUntil, pos+n)
			if lost++; lost < attempts {
				size = max(1, min(size, n/2))
				continue
			}
			e.logger().Warn("sync: giving up a push write that outlived its lease on every attempt",
				"user", p.UserID, "records", n, "attempts", attempts)
			out = chunkResult{rejected: append(out.rejected, e.unconfirmed(p.UserID, chunk, out.rejected)...)}
		}
		if err := e.storeRejects(ctx, p.UserID, out.rejected); err != nil {
			return err
		}
		res.Accepted += out.count
		for _, r := range out.rejected {
			res.Rejected = append(res.Rejected, RejectedRecord{Table: r.Table, ID: r.RecordID, Code: r.Code,
				Detail: r.Detail, Field: r.Field, RejectID: r.ID})
		}
		pos, lost = pos+n, 0
	}
	return nil
}

// pushChunkOnce runs one attempt at a chunk under its own sequence number; kept is false when
// the attempt outlived its lease (see Engine.attempt).
func (e *Engine) pushChunkOnce(ctx context.Context, p *auth.Principal, chunk []pushItem) (out chunkResult, kept bool, err error) {
	tables, changes := group(chunk)
	kept, err = e.attempt(ctx, len(chunk), func(ctx context.Context, seq int64) (change, error) {
		var touches []Touch
		for i, t := range tables {
			applied, err := t.Push(ctx, p, seq, changes[i])
			touches = append(touches, applied.Touches...)
			if err != nil {
				return change{touches: touches}, fmt.Errorf("push %s: %w", t.Name(), err)
			}
			out.count += applied.Count
			for _, r := range applied.Rejected {
				if r.gone && slices.Contains(changes[i].Deleted, r.ID) {
					out.count++ // deleting what is not there is done already (see Gone)
					continue
				}
				out.rejected = append(out.rejected, e.newReject(p.UserID, t.Name(), r))
			}
		}
		return change{touches: touches}, nil
	})
	return out, kept, err
}

// unconfirmed rejects as unavailable the records of a chunk given up after its lease, except
// those its last attempt rejected (their reason stands): their writes may be in place, but a
// device may have missed them, so the device must push them again.
func (e *Engine) unconfirmed(userID string, chunk []pushItem, refused []storedReject) []storedReject {
	type key struct{ table, id string }
	already := map[key]int{}
	for _, r := range refused {
		already[key{r.Table, r.RecordID}]++
	}
	var out []storedReject
	for _, it := range chunk {
		k := key{it.table.Name(), it.recordID()}
		if already[k] > 0 {
			already[k]--
			continue
		}
		out = append(out, e.newReject(userID, k.table, Rejection{ID: k.id, Raw: it.raw,
			Code: apperr.Unavailable, Detail: unconfirmedDetail}))
	}
	return out
}

// nextChunkSize sizes the write after one of n records that took took: in proportion when it
// took longer than target, doubled (up to most) when it took at most half of it.
func nextChunkSize(n int, took, target time.Duration, most int) int {
	switch {
	case took > target:
		return max(1, int(int64(n)*int64(target)/int64(took)))
	case took <= target/2:
		return min(most, 2*n)
	}
	return n
}
