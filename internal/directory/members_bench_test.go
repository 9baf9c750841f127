package directory

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

// BenchmarkAudienceMembers is what counting an audience costs with 10,000 users and 10,000
// devices on the embedded FerretDB: from the database it reads both collections once ("db/..."),
// from a loaded RecipientView it reads nothing ("view/..."). The ops console's release
// confirmations (release.Service.Reach) and announcements' reach pay it once per page.
func BenchmarkAudienceMembers(b *testing.B) {
	db := testenv.Mongo(b)
	ctx := context.Background()
	at := time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)
	const n = 10_000
	users, devices := make([]any, n), make([]any, n)
	for i := range n {
		id := fmt.Sprintf("u%05d", i)
		users[i] = bson.D{{Key: "_id", Value: id}, {Key: "employee_no", Value: fmt.Sprintf("E%05d", i)},
			{Key: "department", Value: fmt.Sprintf("D%02d", i%40)}, {Key: "status", Value: StatusActive}, {Key: "roles", Value: []string{"employee"}}}
		devices[i] = bson.D{{Key: "_id", Value: id + "/phone"}, {Key: "user_id", Value: id}, {Key: "platform", Value: "android"},
			{Key: "channel", Value: "stable"}, {Key: "push_token", Value: "t-" + id}, {Key: "push_enabled", Value: true}, {Key: "last_seen_at", Value: at}}
	}
	if _, err := db.Collection(usersCollection).InsertMany(ctx, users); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Collection(devicesCollection).InsertMany(ctx, devices); err != nil {
		b.Fatal(err)
	}
	now := func() time.Time { return at.Add(time.Hour) }
	view := &RecipientView{DB: db}
	if err := view.Refresh(ctx); err != nil {
		b.Fatal(err)
	}
	for _, src := range []struct {
		name string
		r    *Recipients
	}{{"db", &Recipients{DB: db, Now: now}}, {"view", &Recipients{DB: db, View: view, Now: now}}} {
		benchmarkMembers(b, ctx, src.name, src.r)
	}
}

func benchmarkMembers(b *testing.B, ctx context.Context, source string, r *Recipients) {
	const n = 10_000
	for _, c := range []struct {
		name string
		aud  push.Audience
		want int
	}{
		{"everybody", push.Audience{All: true}, n},
		{"two_departments_and_50_invited", push.Audience{Departments: []string{"D01", "D02"}, UserIDs: invited(50)}, n/20 + 50},
	} {
		b.Run(source+"/"+c.name, func(b *testing.B) {
			for b.Loop() {
				ms, err := r.Members(ctx, c.aud)
				if err != nil {
					b.Fatal(err)
				}
				if len(ms) != c.want {
					b.Fatalf("%d members, want %d", len(ms), c.want)
				}
			}
		})
	}
}

// invited returns k user ids outside departments D01 and D02.
func invited(k int) []string {
	ids := make([]string, k)
	for i := range ids {
		ids[i] = fmt.Sprintf("u%05d", i*40) // department D00
	}
	return ids
}
