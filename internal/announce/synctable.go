package announce

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/inbox"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// SyncTableName is the announcements' name in the sync protocol.
const SyncTableName = "announcements"

// syncColl holds one sync stamp per announcement that readers saw change: its publication, an
// edit after it, its withdrawal. The announcement documents themselves are not stamped because
// their state lives in three collections (see announce.go).
const syncColl = "announce_sync"

type syncStamp struct {
	ID         string `bson:"_id"`
	Seq        int64  `bson:"_seq"`
	CreatedSeq int64  `bson:"_created_seq"`
}

// SyncSchemaVersion is the app schema version that added the announcements table (schema 1 had
// the feedback tables and the inbox).
const SyncSchemaVersion = 2

// Sync is the sync engine (datasync.Engine) as announcements use it.
type Sync interface {
	// Write runs fn with a fresh sequence number; it returns fn's error as is and unavailable
	// when the sequence cannot be allocated.
	Write(ctx context.Context, fn func(ctx context.Context, seq int64) ([]datasync.Touch, error)) error
}

// SyncRecord is a published announcement as the sync protocol carries it: the REST detail
// without the reader's own progress (read and acknowledge through REST). Times are Unix
// milliseconds.
type SyncRecord struct {
	ID          string  `json:"id"`
	Title       string  `json:"title"`
	Excerpt     string  `json:"excerpt"`
	BodyHTML    string  `json:"body_html"`
	Importance  string  `json:"importance"`
	RequiresAck bool    `json:"requires_ack"`
	Pinned      bool    `json:"pinned"`
	CoverImage  *string `json:"cover_image"`
	PublishedAt int64   `json:"published_at"`
	ExpiresAt   *int64  `json:"expires_at"`
}

// stamp records that announcement id changed for its readers, after the change is written: a
// pull whose cursor passes the stamp started after the change. Every user's announcements table
// is touched (AllKey): audiences are few and small, and whether a user is in one is decided at
// pull time. A withdrawal touches every user's inbox table too: the inbox items of the
// announcement are sent deleted (see Withdrawn).
func (s *Service) stamp(ctx context.Context, id string) error { return s.stampTables(ctx, id, false) }

// stampWithdrawal is stamp for a withdrawal.
func (s *Service) stampWithdrawal(ctx context.Context, id string) error {
	return s.stampTables(ctx, id, true)
}

func (s *Service) stampTables(ctx context.Context, id string, withdrawal bool) error {
	if s.Sync == nil {
		return nil
	}
	return s.Sync.Write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		unlock := s.DB.Lock("announce-sync:" + id)
		defer unlock()
		filter := bson.D{{Key: "_id", Value: id}}
		update := bson.D{
			{Key: "$max", Value: bson.D{{Key: "_seq", Value: seq}}},
			{Key: "$setOnInsert", Value: bson.D{{Key: "_created_seq", Value: seq}}},
		}
		_, err := s.DB.Collection(syncColl).UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
		if mongodb.IsDuplicateKey(err) { // another instance stamped it first: stamp over it
			_, err = s.DB.Collection(syncColl).UpdateOne(ctx, filter, update)
		}
		if err != nil {
			return nil, fmt.Errorf("stamp announcement %s: %w", id, mongodb.Translate(err, "announcement"))
		}
		touches := []datasync.Touch{{Table: SyncTableName, Keys: []string{datasync.AllKey}}}
		if withdrawal {
			// Every user's inbox may hold items of it: the pull reads them by id (Withdrawn).
			// The touch names a marker record (no item has that id) so that the inbox's pulls
			// stay exact: an unnamed touch made every user's next pull query the inbox by
			// cursor, which reads the whole collection on the stand-in FerretDB.
			touches = append(touches, datasync.Touch{Table: inbox.SyncTableName, Keys: []string{datasync.AllKey},
				Records: []datasync.TouchedRecord{{Key: datasync.AllKey, ID: inbox.WithdrawalMarker(id)}}})
		}
		return touches, nil
	})
}

// Withdrawn returns the ids of the withdrawn announcements (all) and, for since > 0, the
// notification ids of the announcements whose withdrawal was stamped after sync number since
// (recent: the publication's and every reminder's): an inbox pull leaves the items of all of
// them out and sends deleted the user's items among the recent ones (inbox.Store.Withdrawn).
// Both are read from the database, not the view: a pull must see a withdrawal stamped before
// it started, whichever instance made it. A stamp after since of an announcement withdrawn
// before since (a withdrawal stamped again) only sends deletes again, which the app ignores
// for records it no longer has. Every read is of a small collection or by _id.
func (s *Service) Withdrawn(ctx context.Context, since int64) (all, recent []string, err error) {
	claims, err := mongodb.FindAll[withdrawDoc](ctx, s.DB.Collection(withdrawColl), bson.D{}, "announcement")
	if err != nil || len(claims) == 0 {
		return nil, nil, err
	}
	withdrawn := make(map[string]bool, len(claims))
	all = make([]string, len(claims))
	for i, c := range claims {
		all[i], withdrawn[c.ID] = c.ID, true
	}
	if since <= 0 {
		return all, nil, nil
	}
	stamps, err := mongodb.FindAll[syncStamp](ctx, s.DB.Collection(syncColl),
		bson.D{{Key: "_seq", Value: bson.D{{Key: "$gt", Value: since}}}}, "announcement")
	if err != nil {
		return nil, nil, err
	}
	for _, st := range stamps {
		if !withdrawn[st.ID] {
			continue
		}
		recent = append(recent, publishKey(st.ID))
		// Reminders are claims "<id>:<n>", n from 1 without gaps (a claim given back is
		// taken again by the next reminder).
		for n := 1; ; n++ {
			err := s.DB.Collection(remindersColl).FindOne(ctx, bson.D{{Key: "_id", Value: st.ID + ":" + strconv.Itoa(n)}}).Err()
			if mongodb.IsNotFound(err) {
				break
			}
			if err != nil {
				return nil, nil, fmt.Errorf("reminders of announcement %s: %w", st.ID, mongodb.Translate(err, "reminder"))
			}
			recent = append(recent, remindKey(st.ID, n))
		}
	}
	return all, recent, nil
}

// SyncTable returns the announcements as a read-only synced table. Register it with the engine
// that is the service's Sync.
func (s *Service) SyncTable() datasync.Table { return syncTable{s} }

type syncTable struct{ s *Service }

var _ datasync.Versioned = syncTable{}

func (syncTable) Name() string { return SyncTableName }

// SchemaVersion implements datasync.Versioned: apps on schema 1 are not sent announcements.
func (syncTable) SchemaVersion() int { return SyncSchemaVersion }

// Pull sends the published announcements the user may read: all of them on a first sync, else
// those stamped after the cursor, as live records while the user may read them and as
// deleted once withdrawn (or no longer for the user). An announcement that merely expires sends
// nothing: its record carries expires_at, and the app hides it past that time.
func (t syncTable) Pull(ctx context.Context, q datasync.Query, out *datasync.TableWriter) error {
	stamps, err := mongodb.FindAll[syncStamp](ctx, t.s.DB.Collection(syncColl), bson.D{}, "announcement")
	if err != nil {
		return err
	}
	byID := make(map[string]syncStamp, len(stamps))
	changed := q.Since == 0
	for _, st := range stamps {
		byID[st.ID] = st
		changed = changed || st.Seq > q.Since
	}
	if !changed {
		return nil
	}
	// The stamps were written after their changes, so a view loaded now shows them, even when
	// another instance wrote them a moment ago.
	if err := t.s.reload(ctx); err != nil {
		return err
	}
	all, err := t.s.snapshot(ctx)
	if err != nil {
		return err
	}
	now, r := t.s.Now.Stored(), &reader{s: t.s, p: q.User}
	for _, a := range all {
		st, stamped := byID[a.ID]
		if q.Since > 0 && (!stamped || st.Seq <= q.Since) {
			continue
		}
		sees, err := r.sees(ctx, a, now)
		if err != nil {
			return err
		}
		switch {
		case sees:
			err = out.Live(a.ID, a.syncRecord())
		case q.Since > 0:
			err = out.Deleted(a.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (a *Announcement) syncRecord() SyncRecord {
	r := SyncRecord{ID: a.ID, Title: a.Title, Excerpt: a.Excerpt, BodyHTML: a.BodyHTML, Importance: a.Importance,
		RequiresAck: a.Importance == Important, Pinned: a.Pinned, CoverImage: a.CoverImage}
	if a.PublishedAt != nil {
		r.PublishedAt = a.PublishedAt.UnixMilli()
	}
	if a.ExpiresAt != nil {
		ms := a.ExpiresAt.UnixMilli()
		r.ExpiresAt = &ms
	}
	return r
}

// Push rejects every change: announcements are read-only on devices (read and acknowledge them
// through REST).
func (syncTable) Push(_ context.Context, _ *auth.Principal, _ int64, ch datasync.Changes) (datasync.Applied, error) {
	var a datasync.Applied
	forbidden := apperr.New(apperr.Forbidden, "announcements are read-only; read and acknowledge them through the API")
	for _, raw := range append(append([]json.RawMessage{}, ch.Created...), ch.Updated...) {
		a.Rejected = append(a.Rejected, datasync.RejectionFrom(recordID(raw), raw, forbidden))
	}
	for _, id := range ch.Deleted {
		a.Rejected = append(a.Rejected, datasync.RejectionFrom(id, nil, forbidden))
	}
	return a, nil
}

// recordID returns the id of a raw pushed record (the engine checked it is a string).
func recordID(raw json.RawMessage) string {
	var rec struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &rec)
	return rec.ID
}
