package push

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// collapseColl holds, per collapse key and user, the notification enqueued last for them under
// that key ("<collapse key>\x00<user id>"): an approval's visible push and the silent one that
// withdraws it share a collapse key, and a visible push held back by a retry must not reach the
// phone after its withdrawal, since a collapse key replaces only what is not yet delivered.
const collapseColl = "push_collapse"

// maxCollapseUsers bounds the audiences whose pushes are tracked per collapse key: only pushes
// to a few named users (an approval's approver) are.
const maxCollapseUsers = 16

type collapseDoc struct {
	ID           string    `bson:"_id"`
	Notification string    `bson:"notification"`
	At           time.Time `bson:"at"`
}

// collapseUsers are the users whose latest push under n's collapse key n is: its named users,
// when n has a collapse key and is for a few named users only.
func collapseUsers(n *Notification) []string {
	a := n.Audience
	if n.CollapseKey == "" || a.All || len(a.Departments)+len(a.Roles)+len(a.Channels) > 0 || len(a.UserIDs) > maxCollapseUsers {
		return nil
	}
	return a.UserIDs
}

func collapseID(key, userID string) string { return key + "\x00" + userID }

// markLatest records n as the latest push under its collapse key for its named users.
func (e *Engine) markLatest(ctx context.Context, n *Notification, now time.Time) error {
	for _, u := range collapseUsers(n) {
		_, err := e.coll(collapseColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: collapseID(n.CollapseKey, u)}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "notification", Value: n.Key}, {Key: "at", Value: now}}}},
			options.UpdateOne().SetUpsert(true))
		if err != nil {
			return fmt.Errorf("record the latest push of %s: %w", n.CollapseKey, mongodb.Translate(err, "notification"))
		}
	}
	return nil
}

// notSuperseded drops the devices of users for whom a later push under n's collapse key was
// enqueued: n's message would reach them after it (a withdrawal) and stay.
func (e *Engine) notSuperseded(ctx context.Context, n *Notification, devices []batchDevice) ([]batchDevice, error) {
	if len(collapseUsers(n)) == 0 || len(devices) == 0 {
		return devices, nil
	}
	later := map[string]bool{}
	for _, d := range devices {
		if _, seen := later[d.User]; seen {
			continue
		}
		var doc collapseDoc
		err := e.coll(collapseColl).FindOne(ctx, bson.D{{Key: "_id", Value: collapseID(n.CollapseKey, d.User)}}).Decode(&doc)
		switch {
		case mongodb.IsNotFound(err):
			later[d.User] = false
		case err != nil:
			return nil, fmt.Errorf("read the latest push of %s: %w", n.CollapseKey, mongodb.Translate(err, "notification"))
		default:
			later[d.User] = doc.Notification != n.Key
		}
	}
	out := devices[:0:0]
	for _, d := range devices {
		if later[d.User] {
			e.Metrics.failed("superseded")
			continue
		}
		out = append(out, d)
	}
	return out, nil
}
