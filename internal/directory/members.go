package directory

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// Member is one active user of an audience, as content statistics count them.
type Member struct {
	UserID     string
	Department string
	// PushDevices counts the user's devices that can take a push (token, push on, seen within
	// push.StaleAfter).
	PushDevices int
}

// Members lists the active users an audience reaches, by the same rules as Stream: user
// criteria select users, a channel selects the users with a device on it. Content services use
// it for reach statistics and reminders; it reads the users and the devices collections once
// each, so it suits ops endpoints, not per-request employee paths; with View set it counts from
// that in-memory copy instead and reads nothing. It returns unavailable when the database cannot
// be read.
func (r *Recipients) Members(ctx context.Context, aud push.Audience) ([]Member, error) {
	if aud.Empty() {
		return nil, nil
	}
	if r.View != nil {
		return r.View.members(ctx, aud, r.Now.UTC())
	}
	cur, err := r.DB.Collection(usersCollection).Find(ctx, bson.D{},
		options.Find().SetProjection(bson.D{{Key: "department", Value: 1}, {Key: "status", Value: 1}, {Key: "roles", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("audience members: %w", mongodb.Translate(err, "user"))
	}
	var rows []struct {
		ID         string   `bson:"_id"`
		Department string   `bson:"department"`
		Status     string   `bson:"status"`
		Roles      []string `bson:"roles"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("audience members: %w", mongodb.Translate(err, "user"))
	}
	active := make(map[string]string, len(rows))
	chosen := make(map[string]bool)
	for _, u := range rows {
		if u.Status != StatusActive {
			continue
		}
		active[u.ID] = u.Department
		if aud.All || slices.Contains(aud.Departments, u.Department) || slices.Contains(aud.UserIDs, u.ID) ||
			slices.ContainsFunc(u.Roles, func(role string) bool { return slices.Contains(aud.Roles, role) }) {
			chosen[u.ID] = true
		}
	}
	pushable, err := r.deviceCounts(ctx, aud, active, chosen)
	if err != nil {
		return nil, err
	}
	members := make([]Member, 0, len(chosen))
	for id := range chosen {
		members = append(members, Member{UserID: id, Department: active[id], PushDevices: pushable[id]})
	}
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.UserID, b.UserID) })
	return members, nil
}

// deviceCounts reads the devices once: it adds the active users of audience channels to chosen
// and counts each chosen user's pushable devices.
func (r *Recipients) deviceCounts(ctx context.Context, aud push.Audience, active map[string]string, chosen map[string]bool) (map[string]int, error) {
	cur, err := r.DB.Collection(devicesCollection).Find(ctx, bson.D{}, options.Find().SetProjection(recipientProjection))
	if err != nil {
		return nil, fmt.Errorf("audience devices: %w", mongodb.Translate(err, "device"))
	}
	var devices []recipientDevice
	if err := cur.All(ctx, &devices); err != nil {
		return nil, fmt.Errorf("audience devices: %w", mongodb.Translate(err, "device"))
	}
	now := r.Now.UTC()
	counts := make(map[string]int)
	for _, d := range devices {
		if _, ok := active[d.UserID]; ok && slices.Contains(aud.Channels, d.Channel) {
			chosen[d.UserID] = true
		}
	}
	for _, d := range devices {
		if chosen[d.UserID] && d.PushToken != "" && d.PushEnabled && now.Sub(d.LastSeenAt) <= push.StaleAfter {
			counts[d.UserID]++
		}
	}
	return counts, nil
}

// UserChannels returns the release channels of userID's devices, for matching channel
// audiences to a reader. It returns unavailable when the database cannot be read.
func (r *Recipients) UserChannels(ctx context.Context, userID string) ([]string, error) {
	if r.DB.FerretDB {
		// Every device's pull of announcements with a channel audience asks: on FerretDB each
		// asking reads the whole devices collection, so concurrent ones share a read.
		devs, err := readerFor(r.DB).read(ctx, map[string]bool{userID: false})
		if err != nil {
			return nil, fmt.Errorf("channels of %s: %w", userID, err)
		}
		var channels []string
		for _, d := range devs {
			if d.Channel != "" && !slices.Contains(channels, d.Channel) {
				channels = append(channels, d.Channel)
			}
		}
		return channels, nil
	}
	cur, err := r.DB.Collection(devicesCollection).Find(ctx, bson.D{{Key: "user_id", Value: userID}},
		options.Find().SetProjection(bson.D{{Key: "channel", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("channels of %s: %w", userID, mongodb.Translate(err, "device"))
	}
	var devices []struct {
		Channel string `bson:"channel"`
	}
	if err := cur.All(ctx, &devices); err != nil {
		return nil, fmt.Errorf("channels of %s: %w", userID, mongodb.Translate(err, "device"))
	}
	var channels []string
	for _, d := range devices {
		if d.Channel != "" && !slices.Contains(channels, d.Channel) {
			channels = append(channels, d.Channel)
		}
	}
	return channels, nil
}
