package datasync

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// Table is one synced table. Domain packages implement it over their collections and register
// it with Engine.Register; the engine never needs to change when a table is added.
type Table interface {
	// Name is the table's name in the wire format ("feedback", "inbox").
	Name() string
	// Pull writes to out the records of this table that q.User may see and that changed after
	// q.Since (q.Since == 0: all live records): out.Live for a record the user sees, out.Deleted
	// for one they no longer see. See Query. Errors end the pull; a database failure should be
	// returned as unavailable (mongodb.Translate).
	Pull(ctx context.Context, q Query, out *TableWriter) error
	// Push applies p's pushed changes of this table with sequence number seq (the engine calls it
	// inside Write, possibly more than once, so it must be idempotent); records it cannot accept
	// are returned as rejections, not applied. A deleted id with no live record (never pushed, or
	// already deleted) is rejected with Gone, which the engine counts as accepted. An error fails
	// the whole push (use it for database failures, never for a bad record).
	Push(ctx context.Context, p *auth.Principal, seq int64, ch Changes) (Applied, error)
}

// Rewriter is implemented by tables every write of which is made again, under a newer
// sequence number, until it is confirmed: a device pushes again what was not answered, a
// server-side writer retries a write that failed. A write abandoned after its lease (its
// writer died or was too slow) is then written again, naming its records (Touch.Records), so
// a pull of the table may still read exactly the records named since its cursor (Query.Exact)
// across an abandoned number. Without it an abandoned number makes every pull whose cursor is
// older query by cursor once.
type Rewriter interface {
	Table
	// RewritesAbandonedWrites documents the promise; it is never called.
	RewritesAbandonedWrites()
}

// Purger is implemented by tables that keep tombstones: Engine.Purge calls PurgeTombstones to
// delete the tombstones stamped with a sequence number below beforeSeq. No device with a cursor
// that old gets an incremental pull any more (it gets a full resync). It returns unavailable when
// the database cannot be reached.
type Purger interface {
	PurgeTombstones(ctx context.Context, beforeSeq int64) error
}

// Query says what a table's Pull must send.
type Query struct {
	// User is the puller.
	User *auth.Principal
	// Keys are all the audience keys the user holds now (UserKey, AllKey, RoleKey, DeptKey and
	// granted keys).
	Keys []string
	// Since is the device's cursor; 0 means a first sync (or a full resync).
	Since int64
	// Upto is the pull's timestamp (the low-water mark, at least 1). Records with _seq > Upto may
	// be sent too: the next pull sends them again, as updated, which the app applies idempotently.
	Upto int64
	// Gained are keys granted after Since: send ALL live records visible through them (as live
	// records, like any other).
	Gained []string
	// Lost are keys revoked after Since: send deleted for records in them that are no longer
	// visible through Keys.
	Lost []string
	// Exact is set when every write to the table since Since that the user may see named the
	// records it changed (Touch.Records): Changed then holds exactly the ids of the table's
	// records changed after Since that the user sees through Keys (sorted, at least those up to
	// Upto). A table may read just those records by id instead of querying by cursor, which on
	// the stand-in FerretDB (it pushes down only {_id: x}) reads the whole collection. Tables
	// may ignore it.
	Exact   bool
	Changed []string
}

// Changes are one table's part of a push (or of a pull): created and updated records as raw
// JSON objects with an "id", and the ids of deleted records.
type Changes struct {
	Created, Updated []json.RawMessage
	Deleted          []string
}

// Len is the number of records in c.
func (c Changes) Len() int { return len(c.Created) + len(c.Updated) + len(c.Deleted) }

// Touch says that a write changed records of Table that the holders of Keys see (or saw: a
// record that moves from one audience to another touches both the old and the new keys).
type Touch struct {
	Table string
	Keys  []string
	// Records, when set, names every record the write changed, each with the key it is seen
	// through (a key of Keys). A pull whose cursor is past every write of the table that did not
	// name its records, for all of the user's keys, then learns exactly which records changed
	// (Query.Exact), and the table may read just those by id. A touch without Records is always
	// correct: pulls then query by cursor.
	Records []TouchedRecord
}

// TouchedRecord is a record a write changed (its id) and the key its holders see it through.
type TouchedRecord struct {
	Key, ID string
}

// Applied is what a table's Push did.
type Applied struct {
	// Touches are the changes Push made, for the engine's change index.
	Touches []Touch
	// Rejected are the records Push did not apply; the engine stores them (see Engine.Rejects).
	Rejected []Rejection
	// Count is how many records Push applied (or found already applied, on a replay).
	Count int
}

// Rejection is a pushed record a table did not apply, and why.
type Rejection struct {
	// ID is the record's id ("" when it had none).
	ID string
	// Raw is the record as pushed (a deleted record's id as a JSON string).
	Raw json.RawMessage
	// Code is invalid, forbidden, not_found or conflict.
	Code apperr.Code
	// Detail is a message for the user, and Field the offending column, if any.
	Detail, Field string
	// gone is set by RejectionFrom for a Gone error: the engine accepts such a delete.
	gone bool
}

// errGone marks the errors Gone returns.
var errGone = errors.New("no live record with this id")

// Gone is the error a table's Push gives for a pushed delete of an id that has no live record:
// one the server never saw (WatermelonDB pushes the deletion of a record created and deleted
// offline) or one already deleted. Engine.Push counts such a delete as accepted, a no-op, since
// the record is already what the device wants; rejecting it would make WatermelonDB push it again
// on every sync. Tables must not use it for a record the caller may not delete: that stays a
// rejection. It is not_found for anything else (a Gone update stays rejected).
func Gone(what string) error {
	return &apperr.Error{Code: apperr.NotFound, Message: what + " not found", Err: errGone}
}

// RejectionFrom builds a Rejection of a record from an error: an *apperr.Error keeps its code,
// message and field; anything else becomes invalid with a generic message, so that a driver's
// text never reaches a client.
func RejectionFrom(id string, raw json.RawMessage, err error) Rejection {
	if e, ok := apperr.As(err); ok {
		return Rejection{ID: id, Raw: raw, Code: e.Code, Detail: e.Message, Field: e.Field, gone: errors.Is(err, errGone)}
	}
	return Rejection{ID: id, Raw: raw, Code: apperr.Invalid, Detail: "the record could not be accepted"}
}
