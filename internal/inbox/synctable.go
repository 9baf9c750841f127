package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/clienttime"
	"github.com/mportal/mportal/internal/mongodb"
	datasync "github.com/mportal/mportal/sync"
)

// SyncTableName is the inbox's name in the sync protocol.
const SyncTableName = "inbox"

// SyncRecord is an inbox item as the sync protocol carries it, in its owner's locale like the
// REST list. Times are Unix milliseconds, as WatermelonDB stores dates. Every value fits a
// WatermelonDB column, which holds a string, a number or a boolean: data, an object, is sent
// JSON-encoded.
type SyncRecord struct {
	// ID is the notification's id, as in the REST list.
	ID             string `json:"id"`
	NotificationID string `json:"notification_id"`
	Category       string `json:"category"`
	Title          string `json:"title"`
	Body           string `json:"body"`
	DeepLink       string `json:"deep_link"`
	// Data is the item's data (string values by key) as a JSON object encoded in a string, "{}"
	// when it has none.
	Data      string `json:"data"`
	CreatedAt int64  `json:"created_at"`
	ReadAt    *int64 `json:"read_at"`
}

// SyncTable returns the inbox as a synced table: the app reads its items offline and marks
// them read by pushing them updated with read_at set. Register it with the engine that is the
// store's Sync.
func (s *Store) SyncTable() datasync.Table { return syncTable{s} }

type syncTable struct{ s *Store }

func (syncTable) Name() string { return SyncTableName }

// RewritesAbandonedWrites: every inbox write is made again until it is confirmed, so an
// abandoned one hides nothing from pullByID. Items come from push fan-outs (Add), which write a
// flush again, from their saved cursor, until it succeeds (an existing item is stamped again
// with the new number); read marks come from the user's push or request, which the app sends
// again until answered; "mark all read" is on the user's state document, which every pull
// reads.
func (syncTable) RewritesAbandonedWrites() {}

// Pull sends the user's items written after the cursor, or all of them on a first sync or after
// a "mark all read" newer than the cursor (every read_at may have changed), except the items of
// withdrawn announcements (Store.Withdrawn); and it sends deleted the items of the announcements
// withdrawn after the cursor, which the app may hold (it ignores a delete of a record it does not
// have). Items are otherwise never deleted. The query filters by user_id rather than audience
// keys, so items written before sync existed take part in first syncs too.
func (t syncTable) Pull(ctx context.Context, q datasync.Query, out *datasync.TableWriter) error {
	user := q.User.UserID
	state, err := t.s.readState(ctx, user)
	if err != nil {
		return err
	}
	var all, recent []string
	if t.s.Withdrawn != nil {
		if all, recent, err = t.s.Withdrawn(ctx, q.Since); err != nil {
			return fmt.Errorf("pull inbox of %s: %w", user, err)
		}
	}
	withdrawn := make(map[string]bool, len(all))
	for _, id := range all {
		withdrawn[id] = true
	}
	if err := t.pullWithdrawn(ctx, user, recent, out); err != nil {
		return err
	}
	filter := bson.D{{Key: "user_id", Value: user}}
	incremental := q.Since > 0 && state.Seq <= q.Since
	if incremental {
		filter = append(filter, bson.E{Key: "_seq", Value: bson.D{{Key: "$gt", Value: q.Since}}})
	}
	locale, err := t.s.locale(ctx, user)
	if err != nil {
		return err
	}
	live := func(d *itemDoc) error {
		if id := d.Data["announcement_id"]; id != "" && withdrawn[id] {
			return nil // sent deleted above, if it was withdrawn after the cursor
		}
		return out.Live(d.NotificationID, d.syncRecord(locale, state.ReadAllBefore))
	}
	if incremental && q.Exact && len(q.Changed) <= maxExactReads {
		return t.pullByID(ctx, user, q.Changed, live)
	}
	cur, err := t.s.items().Find(ctx, filter)
	if err != nil {
		return fmt.Errorf("pull inbox of %s: %w", user, mongodb.Translate(err, "inbox item"))
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	for cur.Next(ctx) {
		var d itemDoc
		if err := cur.Decode(&d); err != nil {
			return fmt.Errorf("pull inbox of %s: %w", user, err)
		}
		if err := live(&d); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("pull inbox of %s: %w", user, mongodb.Translate(err, "inbox item"))
	}
	return nil
}

// pullWithdrawn sends deleted user's items among the notifications in recent (of the
// announcements withdrawn after the pull's cursor), each looked up by its id: only an item the
// user has is sent, so nobody learns of an announcement that was not for them.
func (t syncTable) pullWithdrawn(ctx context.Context, user string, recent []string, out *datasync.TableWriter) error {
	for _, notification := range recent {
		err := t.s.items().FindOne(ctx, bson.D{{Key: "_id", Value: ItemID(user, notification)}},
			options.FindOne().SetProjection(bson.D{{Key: "_id", Value: 1}})).Err()
		switch {
		case mongodb.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("pull inbox of %s: %w", user, mongodb.Translate(err, "inbox item"))
		}
		if err := out.Deleted(notification); err != nil {
			return err
		}
	}
	return nil
}

// maxExactReads bounds the items an incremental pull reads one by one (see pullByID); more
// changes than that are read with one query.
const maxExactReads = 64

// pullByID sends the items the sync engine named as changed since the cursor (Query.Changed:
// every inbox write names the items it wrote or marked), each read by its id. On MongoDB the
// (user_id, _seq) index serves the cursor query as well; on the stand-in FerretDB, which pushes
// down only a filter on _id alone, that query reads the whole inbox, every user's, for each
// pull: after a fan-out to tens of thousands of users every device's pull did
// (internal/chaos/README.md). An item that is not the user's is not sent.
func (t syncTable) pullByID(ctx context.Context, user string, ids []string, live func(*itemDoc) error) error {
	for _, id := range ids {
		var d itemDoc
		err := t.s.items().FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&d)
		switch {
		case mongodb.IsNotFound(err):
			continue
		case err != nil:
			return fmt.Errorf("pull inbox of %s: %w", user, mongodb.Translate(err, "inbox item"))
		case d.UserID != user:
			continue
		}
		if err := live(&d); err != nil {
			return err
		}
	}
	return nil
}

func (d *itemDoc) syncRecord(locale string, readAll time.Time) SyncRecord {
	it := d.item(locale, readAll)
	r := SyncRecord{ID: it.ID, NotificationID: d.NotificationID, Category: string(it.Category), Title: it.Title,
		Body: it.Body, DeepLink: it.DeepLink, Data: encodeData(it.Data), CreatedAt: it.CreatedAt.UnixMilli()}
	if it.ReadAt != nil {
		ms := it.ReadAt.UnixMilli()
		r.ReadAt = &ms
	}
	return r
}

// encodeData is data as a JSON object in a string, "{}" for none (a nil map would encode as
// "null").
func encodeData(data map[string]string) string {
	if len(data) == 0 {
		return "{}"
	}
	b, err := json.Marshal(data) // a map of strings always encodes
	if err != nil {
		return "{}"
	}
	return string(b)
}

// Push accepts one change only: an updated item of the caller's with read_at set to a sane
// client time (see clienttime.Check) marks it read (at the server's time; an earlier read
// stands). Only id and read_at are read: the app pushes the whole record as it stores it (data
// as a string), and its other columns are the server's. Anything else is rejected: created and deleted
// items as forbidden (the server owns the inbox), an update without read_at as invalid, an id
// that is not one of the caller's items as not_found.
func (t syncTable) Push(ctx context.Context, p *auth.Principal, seq int64, ch datasync.Changes) (datasync.Applied, error) {
	var a datasync.Applied
	forbidden := apperr.New(apperr.Forbidden, "inbox items are written by the server; only marking them read syncs")
	for _, raw := range ch.Created {
		a.Rejected = append(a.Rejected, datasync.RejectionFrom(recordID(raw), raw, forbidden))
	}
	for _, id := range ch.Deleted {
		a.Rejected = append(a.Rejected, datasync.RejectionFrom(id, nil, forbidden))
	}
	var marked []string
	for _, raw := range ch.Updated {
		var rec struct {
			ID     string           `json:"id"`
			ReadAt *json.RawMessage `json:"read_at"`
		}
		if err := json.Unmarshal(raw, &rec); err != nil || rec.ReadAt == nil || string(*rec.ReadAt) == "null" {
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(recordID(raw), raw,
				apperr.Field("read_at", "only marking an item read syncs: read_at must be set")))
			continue
		}
		if err := t.s.checkReadAt(*rec.ReadAt); err != nil {
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(recordID(raw), raw, err))
			continue
		}
		itemID := ItemID(p.UserID, rec.ID)
		matched, err := t.s.markRead(ctx, p.UserID, itemID, seq)
		if err != nil {
			if len(marked) > 0 { // written: the engine logs it with the error
				a.Touches = []datasync.Touch{itemTouch(p.UserID, marked...)}
			}
			return a, err
		}
		if !matched {
			a.Rejected = append(a.Rejected, datasync.RejectionFrom(rec.ID, raw,
				apperr.New(apperr.NotFound, "inbox item not found")))
			continue
		}
		a.Count++
		marked = append(marked, itemID)
	}
	if a.Count > 0 {
		a.Touches = []datasync.Touch{itemTouch(p.UserID, marked...)}
	}
	return a, nil
}

// checkReadAt checks a pushed read_at: the server stores its own time, but a value that is not a
// sane client time means the app's clock or code is broken, and the app should hear about it.
func (s *Store) checkReadAt(raw json.RawMessage) error {
	var ms int64
	if err := json.Unmarshal(raw, &ms); err != nil {
		return apperr.Field("read_at", "read_at must be Unix milliseconds")
	}
	return clienttime.Check("read_at", ms, s.Now.Stored())
}

// recordID returns the id of a raw pushed record (the engine checked it is a string).
func recordID(raw json.RawMessage) string {
	var rec struct {
		ID string `json:"id"`
	}
	_ = json.Unmarshal(raw, &rec)
	return rec.ID
}
