package directory

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

type recipientFixture struct {
	ctx        context.Context
	db         *mongodb.DB
	clock      *testenv.Clock
	devices    *Devices
	recipients *Recipients
}

func newRecipientFixture(t *testing.T) *recipientFixture {
	t.Helper()
	db := testenv.Mongo(t)
	f := &recipientFixture{ctx: context.Background(), db: db, clock: newClock()}
	f.devices = &Devices{DB: db, Now: f.clock.Now}
	f.recipients = &Recipients{DB: db, Now: f.clock.Now}
	return f
}

// newViewFixture is newRecipientFixture streaming from a RecipientView that the fixture's
// Devices keep up to date. The view loads at the first Stream, so users and devices written
// straight into the collections before then are in it.
func newViewFixture(t *testing.T) *recipientFixture {
	t.Helper()
	f := newRecipientFixture(t)
	v := &RecipientView{DB: f.db}
	f.devices.View, f.recipients.View = v, v
	return f
}

// sources are the two ways Recipients reads the directory; every behaviour is tested on both.
var sources = []struct {
	name string
	new  func(t *testing.T) *recipientFixture
}{{"from the database", newRecipientFixture}, {"from the view", newViewFixture}}

func (f *recipientFixture) user(t *testing.T, id, dept, status string, rs ...auth.Role) *auth.Principal {
	t.Helper()
	now := f.clock.Now()
	u := User{ID: id, EmployeeNo: "E-" + id, Name: id, Department: dept, Roles: rs, Locale: DefaultLocale,
		Timezone: DefaultTimezone, Status: status, CreatedAt: now, UpdatedAt: now}
	if _, err := f.db.Collection(usersCollection).InsertOne(f.ctx, u); err != nil {
		t.Fatal(err)
	}
	return &auth.Principal{UserID: id, Roles: rs}
}

func (f *recipientFixture) device(t *testing.T, p *auth.Principal, id, channel, token string, enabled bool) {
	t.Helper()
	in := phone()
	in.Channel, in.PushToken, in.PushEnabled = channel, token, enabled
	if _, err := f.devices.CheckIn(f.ctx, p, id, in); err != nil {
		t.Fatal(err)
	}
}

// stream collects what Stream yields as "user/device" (or "user" for a user-only entry), sorted,
// with the cursors it handed out and the batch sizes.
func (f *recipientFixture) stream(t *testing.T, aud push.Audience, cursor string) (got, cursors []string, sizes []int) {
	t.Helper()
	err := f.recipients.Stream(f.ctx, aud, cursor, func(batch []push.Recipient, c string) error {
		for _, r := range batch {
			if r.DeviceKey == "" {
				got = append(got, r.UserID)
			} else {
				got = append(got, r.DeviceKey)
			}
		}
		cursors, sizes = append(cursors, c), append(sizes, len(batch))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	return got, cursors, sizes
}

func TestRecipientsSelectTheAudience(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) { testSelectTheAudience(t, src.new(t)) })
	}
}

func testSelectTheAudience(t *testing.T, f *recipientFixture) {
	ann := f.user(t, "ann", "Sales", StatusActive, auth.RoleEmployee)
	bo := f.user(t, "bo", "HR", StatusActive, auth.RoleApprover)
	cy := f.user(t, "cy", "Sales", StatusDisabled, auth.RoleEmployee)
	di := f.user(t, "di", "HR", StatusActive, auth.RoleBetaTester)
	f.user(t, "ed", "Ops", StatusActive, auth.RoleEmployee) // no device
	f.device(t, ann, "phone", "stable", "tok-ann", true)
	f.device(t, bo, "phone", "beta", "tok-bo", true)
	f.device(t, cy, "phone", "beta", "tok-cy", true)
	f.device(t, di, "phone", "stable", "", true)
	f.device(t, di, "tablet", "beta", "tok-di", false)

	tests := []struct {
		name string
		aud  push.Audience
		want []string
	}{
		{"reaches every active user, pushable devices or not", push.Audience{All: true},
			[]string{"ann/phone", "bo/phone", "di", "ed"}},
		{"selects by department", push.Audience{Departments: []string{"Sales"}}, []string{"ann/phone"}},
		{"selects by role", push.Audience{Roles: []string{"approver", "beta_tester"}}, []string{"bo/phone", "di"}},
		{"selects devices by channel, skipping disabled users", push.Audience{Channels: []string{"beta"}},
			[]string{"bo/phone", "di"}},
		{"selects named users, skipping disabled ones", push.Audience{UserIDs: []string{"cy", "di", "bo", "nobody"}},
			[]string{"bo/phone", "di"}},
		{"unites the criteria", push.Audience{Departments: []string{"Ops"}, Channels: []string{"stable"}},
			[]string{"ann/phone", "di", "ed"}},
		{"reaches nobody without criteria", push.Audience{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, _ := f.stream(t, tt.aud, "")
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("recipients (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a user reached through a channel is pushed on that channel's devices only", func(t *testing.T) {
		// Before, which of the user's other devices got it depended on the order of device keys.
		fay := f.user(t, "fay", "Ops", StatusActive, auth.RoleEmployee)
		f.device(t, fay, "a-beta", "beta", "tok-fay-1", true)
		f.device(t, fay, "b-stable", "stable", "tok-fay-2", true)
		got, _, _ := f.stream(t, push.Audience{Channels: []string{"beta"}}, "")
		if diff := cmp.Diff([]string{"bo/phone", "di", "fay/a-beta"}, got); diff != "" {
			t.Fatalf("recipients (-want +got):\n%s", diff)
		}
	})
	t.Run("skips devices not seen for 270 days", func(t *testing.T) {
		f.clock.Advance(271 * 24 * time.Hour)
		f.device(t, ann, "new-phone", "stable", "tok-ann-2", true)
		got, _, _ := f.stream(t, push.Audience{UserIDs: []string{"ann", "bo"}}, "")
		if diff := cmp.Diff([]string{"ann/new-phone", "bo"}, got); diff != "" {
			t.Fatalf("recipients (-want +got):\n%s", diff)
		}
	})
}

// seedDevices writes n users with one pushable device each, straight into the collections.
func (f *recipientFixture) seedDevices(t *testing.T, n int) {
	t.Helper()
	now := f.clock.Now()
	var users, devices []any
	for i := range n {
		id := fmt.Sprintf("u%05d", i)
		users = append(users, User{ID: id, EmployeeNo: "E" + id, Name: id, Status: StatusActive, CreatedAt: now, UpdatedAt: now})
		devices = append(devices, Device{Key: id + "/phone", UserID: id, DeviceID: "phone", Platform: PlatformAndroid,
			Channel: DefaultChannel, PushToken: "tok-" + id, PushEnabled: true, CreatedAt: now, LastSeenAt: now})
	}
	if _, err := f.db.Collection(usersCollection).InsertMany(f.ctx, users); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Collection(devicesCollection).InsertMany(f.ctx, devices); err != nil {
		t.Fatal(err)
	}
}

func TestRecipientsStreamResumes(t *testing.T) {
	f := newRecipientFixture(t)
	f.seedDevices(t, 1234)
	all, cursors, sizes := f.stream(t, push.Audience{All: true}, "")

	t.Run("yields batches of at most 500", func(t *testing.T) {
		if len(all) != 1234 || !slices.Equal(sizes, []int{500, 500, 234}) {
			t.Fatalf("%d recipients in batches %v", len(all), sizes)
		}
	})
	t.Run("continues after the batch a cursor names", func(t *testing.T) {
		rest, _, _ := f.stream(t, push.Audience{All: true}, cursors[0])
		first, _, _ := f.stream(t, push.Audience{All: true}, "")
		if len(rest) != 734 {
			t.Fatalf("resumed with %d recipients, want 734", len(rest))
		}
		seen := make(map[string]bool)
		for _, k := range rest {
			seen[k] = true
		}
		missing := 0
		for _, k := range first {
			if !seen[k] {
				missing++
			}
		}
		if missing != 500 {
			t.Fatalf("%d recipients not in the resumed stream, want the 500 of the first batch", missing)
		}
	})
	t.Run("starts over when a device before the cursor is gone", func(t *testing.T) {
		if _, err := f.db.Collection(devicesCollection).DeleteOne(f.ctx, bson.D{{Key: "_id", Value: "u00003/phone"}}); err != nil {
			t.Fatal(err)
		}
		got, _, _ := f.stream(t, push.Audience{All: true}, cursors[0])
		// u00003 is still an audience user, now without a device: a user-only entry.
		if len(got) != 1234 || !slices.Contains(got, "u00003") || !slices.Contains(got, "u00000/phone") {
			t.Fatalf("%d recipients after the restart", len(got))
		}
	})
}

func TestRecipientsRemoveToken(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) { testRemoveToken(t, src.new(t)) })
	}
}

func testRemoveToken(t *testing.T, f *recipientFixture) {
	jo := f.user(t, "jo", "", StatusActive, auth.RoleEmployee)
	f.device(t, jo, "phone", "stable", "tok-jo", true)

	t.Run("clears the token from the device holding it", func(t *testing.T) {
		if err := f.recipients.RemoveToken(f.ctx, "tok-jo"); err != nil {
			t.Fatal(err)
		}
		list, err := f.devices.List(f.ctx, jo)
		if err != nil || len(list) != 1 || list[0].HasPushToken {
			t.Fatalf("devices %+v, %v", list, err)
		}
		if _, _, err := f.recipients.TokenOwner(f.ctx, "tok-jo"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("token owner: %v", err)
		}
	})
	t.Run("ignores a token nobody holds", func(t *testing.T) {
		if err := f.recipients.RemoveToken(f.ctx, "tok-unknown"); err != nil {
			t.Fatal(err)
		}
	})
}
