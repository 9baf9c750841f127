package directory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/push"
)

// channelRule is a ChannelRule for the app com.example.portal (phone's): a channel includes its
// explicit members and the users of its departments, as the release view would say. Tests
// change it as ops would, and may hold a check-in between its decision and its write (hold).
type channelRule struct {
	mu      sync.Mutex
	depts   map[string][]string // channel -> departments
	members map[string][]string // channel -> user ids
	// hold, when set, is called after each decision with what was decided.
	hold func(p *auth.Principal, decided string)
}

func (r *channelRule) DeviceChannel(_ context.Context, p *auth.Principal, appID, channel string) (string, error) {
	r.mu.Lock()
	in := appID == phone().AppID && (slices.Contains(r.depts[channel], p.Department) || slices.Contains(r.members[channel], p.UserID))
	hold := r.hold
	r.mu.Unlock()
	if !in {
		channel = DefaultChannel
	}
	if hold != nil {
		hold(p, channel)
	}
	return channel, nil
}

// setDepts gives channel its departments, as ops would.
func (r *channelRule) setDepts(channel string, depts ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.depts[channel] = depts
}

// includes is what the release service hands NarrowChannel for channel: the rule as it is now.
func (r *channelRule) includes(channel string) func(*auth.Principal) bool {
	return func(p *auth.Principal) bool {
		got, _ := r.DeviceChannel(context.Background(), p, phone().AppID, channel)
		return got == channel
	}
}

// alphaForIT is a rule whose alpha takes IT and the explicit member "mia".
func alphaForIT() *channelRule {
	return &channelRule{depts: map[string][]string{"alpha": {"IT"}}, members: map[string][]string{"alpha": {"mia"}}}
}

// checkInApp checks p's device id in reporting channel, from app.
func (f *recipientFixture) checkInApp(t *testing.T, p *auth.Principal, id, app, channel string) *Device {
	t.Helper()
	in := phone()
	in.AppID, in.Channel, in.PushToken, in.PushEnabled = app, channel, "tok-"+p.UserID+"-"+id, true
	d, err := f.devices.CheckIn(f.ctx, p, id, in)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// loadView loads the fixture's view, if it has one, so that what follows must keep it current.
func (f *recipientFixture) loadView(t *testing.T) {
	t.Helper()
	if f.devices.View != nil {
		if err := f.devices.View.Refresh(f.ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// channels returns "user/device:channel" of every device, sorted, as stored.
func (f *recipientFixture) channels(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, u := range []string{"ivy", "ian", "mia", "sam", "ken"} {
		list, err := f.devices.List(f.ctx, &auth.Principal{UserID: u})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			out = append(out, u+"/"+d.DeviceID+":"+d.Channel)
		}
	}
	slices.Sort(out)
	return out
}

func TestNarrowChannel(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			f := src.new(t)
			// The principals the devices check in with carry no department: NarrowChannel must
			// read it from the directory.
			ivy := f.user(t, "ivy", "IT", StatusActive, auth.RoleEmployee)
			ian := f.user(t, "ian", "IT", StatusActive, auth.RoleEmployee)
			mia := f.user(t, "mia", "IT", StatusActive, auth.RoleEmployee)
			sam := f.user(t, "sam", "QA", StatusActive, auth.RoleEmployee)
			f.checkInApp(t, ivy, "phone", "com.example.portal", "alpha")
			f.checkInApp(t, ivy, "tablet", "com.example.portal.ios", "alpha") // the app's iOS bundle id
			f.checkInApp(t, ivy, "laptop", "com.example.other", "alpha")
			f.checkInApp(t, ian, "phone", "com.example.portal", "beta")
			f.checkInApp(t, mia, "phone", "com.example.portal", "alpha")
			f.checkInApp(t, sam, "phone", "com.example.portal", "alpha")
			f.loadView(t)
			rule := alphaForIT()
			rule.setDepts("alpha", "QA") // ops take IT off alpha

			moved, err := f.devices.NarrowChannel(f.ctx, []string{"portal", "com.example.portal", "com.example.portal.ios"}, "alpha", rule.includes("alpha"))
			if err != nil || moved != 2 {
				t.Fatalf("moved %d, %v; want 2 (ivy's phone and tablet)", moved, err)
			}
			want := []string{"ian/phone:beta", "ivy/laptop:alpha", "ivy/phone:stable", "ivy/tablet:stable", "mia/phone:alpha", "sam/phone:alpha"}
			if diff := cmp.Diff(want, f.channels(t)); diff != "" {
				t.Errorf("stored channels (-want +got):\n%s", diff)
			}
			got, _, _ := f.stream(t, push.Audience{Channels: []string{"alpha"}}, "")
			if diff := cmp.Diff([]string{"ivy/laptop", "mia/phone", "sam/phone"}, got); diff != "" {
				t.Errorf("alpha's push audience (-want +got):\n%s", diff)
			}
			if moved, err := f.devices.NarrowChannel(f.ctx, []string{"portal", "com.example.portal", "com.example.portal.ios"}, "alpha", rule.includes("alpha")); err != nil || moved != 0 {
				t.Errorf("again: moved %d, %v", moved, err)
			}
		})
	}
}

// newChannelFixture is a recipient fixture whose devices follow rule, with a Users writing to
// the same directory and telling the devices about role and department changes.
func newChannelFixture(t *testing.T, newFixture func(*testing.T) *recipientFixture, rule *channelRule) (*recipientFixture, *Users) {
	f := newFixture(t)
	f.devices.Channels = rule
	users := &Users{DB: f.db, Argon: cheapArgon, Sessions: &fakeRevoker{}, Now: f.clock.Now, View: f.devices.View, Devices: f.devices}
	f.loadView(t) // loaded: Reassess reads it, and every move must keep it current
	return f, users
}

func TestAdminChangesMoveDevicesOffChannels(t *testing.T) {
	admin := &auth.Principal{UserID: "admin-actor", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			rule := alphaForIT()
			rule.depts["qa"] = []string{"QA"}
			f, users := newChannelFixture(t, src.new, rule)
			create := func(no, dept string) *auth.Principal {
				u, _, err := users.Create(f.ctx, admin, CreateUser{EmployeeNo: no, Name: no, Department: dept})
				if err != nil {
					t.Fatal(err)
				}
				return &auth.Principal{UserID: u.ID, Department: dept}
			}
			ivy, mia, sam := create("E-IVY", "IT"), create("E-MIA", "IT"), create("E-SAM", "QA")
			rule.members["alpha"] = []string{mia.UserID}
			onAlpha := func(p *auth.Principal, id string) {
				if d := f.checkInApp(t, p, id, "com.example.portal", "alpha"); d.Channel != "alpha" {
					t.Fatalf("%s's %s is on %q", p.UserID, id, d.Channel)
				}
			}
			onAlpha(ivy, "phone")
			onAlpha(ivy, "tablet")
			onAlpha(mia, "phone")
			if d := f.checkInApp(t, sam, "phone", "com.example.portal", "qa"); d.Channel != "qa" {
				t.Fatalf("sam's phone is on %q", d.Channel)
			}
			channelOf := func(p *auth.Principal, id string) string {
				t.Helper()
				list, err := f.devices.List(f.ctx, p)
				if err != nil {
					t.Fatal(err)
				}
				for _, d := range list {
					if d.DeviceID == id {
						return d.Channel
					}
				}
				t.Fatalf("%s has no device %s", p.UserID, id)
				return ""
			}

			t.Run("a department change moves the devices of the channel it left", func(t *testing.T) {
				if _, err := users.Update(f.ctx, admin, ivy.UserID, UserUpdate{Department: ptr("Sales")}); err != nil {
					t.Fatal(err)
				}
				if a, b := channelOf(ivy, "phone"), channelOf(ivy, "tablet"); a != "stable" || b != "stable" {
					t.Errorf("ivy's devices are on %q and %q, want stable", a, b)
				}
			})
			t.Run("an explicit member keeps the channel", func(t *testing.T) {
				if _, err := users.Update(f.ctx, admin, mia.UserID, UserUpdate{Department: ptr("Sales")}); err != nil {
					t.Fatal(err)
				}
				if got := channelOf(mia, "phone"); got != "alpha" {
					t.Errorf("mia's phone is on %q", got)
				}
			})
			t.Run("a change of other fields moves nothing", func(t *testing.T) {
				if d := f.checkInApp(t, sam, "phone", "com.example.portal", "qa"); d.Channel != "qa" {
					t.Fatal(d.Channel)
				}
				rule.setDepts("qa") // ops took QA off: only a reassessment would move sam's phone now
				if _, err := users.Update(f.ctx, admin, sam.UserID, UserUpdate{Locale: ptr("en")}); err != nil {
					t.Fatal(err)
				}
				if got := channelOf(sam, "phone"); got != "qa" {
					t.Errorf("sam's phone is on %q", got)
				}
				rule.setDepts("qa", "QA")
			})
			t.Run("an import that sets departments moves them in one pass", func(t *testing.T) {
				res, err := users.Import(f.ctx, admin, csvOf("employee_no,name,department", "E-SAM,E-SAM,Support", "E-NEW,New,QA"))
				if err != nil || res.Failed != 0 {
					t.Fatalf("%+v, %v", res, err)
				}
				if got := channelOf(sam, "phone"); got != "stable" {
					t.Errorf("sam's phone is on %q", got)
				}
			})
			t.Run("a role change is reassessed too", func(t *testing.T) {
				rule.setDepts("alpha", "IT", "Sales") // ivy (now Sales) is back in alpha
				onAlpha(ivy, "phone")
				rule.setDepts("alpha", "IT")
				if _, err := users.SetRoles(f.ctx, admin, ivy.UserID, []auth.Role{auth.RoleEmployee, auth.RoleApprover}); err != nil {
					t.Fatal(err)
				}
				if got := channelOf(ivy, "phone"); got != "stable" {
					t.Errorf("ivy's phone is on %q", got)
				}
			})
		})
	}
}

// failingFollower fails every reassessment.
type failingFollower struct{ calls int }

func (f *failingFollower) Reassess(context.Context, ...string) (int, error) {
	f.calls++
	return 0, errors.New("database down")
}

func TestAFailedReassessmentDoesNotFailTheChange(t *testing.T) {
	f := newFixture(t)
	follower := &failingFollower{}
	f.users.Devices = follower
	u := f.create(t, CreateUser{EmployeeNo: "E1", Name: "Ivy", Department: "IT"})
	if got, err := f.users.Update(f.ctx, f.admin, u.ID, UserUpdate{Department: ptr("Sales")}); err != nil || got.Department != "Sales" {
		t.Fatalf("%+v, %v", got, err)
	}
	if _, err := f.users.SetRoles(f.ctx, f.admin, u.ID, []auth.Role{auth.RoleApprover}); err != nil {
		t.Fatal(err)
	}
	if follower.calls != 2 {
		t.Errorf("reassessed %d times, want 2", follower.calls)
	}
}

func TestCheckInDecidesWithTheStoredDepartment(t *testing.T) {
	rule := alphaForIT()
	f, _ := newChannelFixture(t, newRecipientFixture, rule)
	f.user(t, "ivy", "Sales", StatusActive, auth.RoleEmployee)
	f.user(t, "ian", "IT", StatusActive, auth.RoleEmployee)
	// A session reads the user's department up to MPORTAL_SESSION_RECHECK ago: ivy's still says
	// IT, ian's does not say IT yet.
	if d := f.checkInApp(t, &auth.Principal{UserID: "ivy", Department: "IT"}, "phone", "com.example.portal", "alpha"); d.Channel != "stable" {
		t.Errorf("ivy, moved out of IT, checked in on %q", d.Channel)
	}
	if d := f.checkInApp(t, &auth.Principal{UserID: "ian", Department: "Sales"}, "phone", "com.example.portal", "alpha"); d.Channel != "alpha" {
		t.Errorf("ian, moved into IT, checked in on %q", d.Channel)
	}
}

// TestACheckInRacingAChannelChange holds a check-in between its decision (alpha, by the rule as it
// was) and its write, while ops take IT off alpha or an admin moves the user out of IT and the
// move runs: the move finds nothing on alpha yet, and the check-in must not leave the device there.
func TestACheckInRacingAChannelChange(t *testing.T) {
	for _, change := range []struct {
		name string
		do   func(t *testing.T, f *recipientFixture, users *Users, rule *channelRule)
	}{
		{"ops take the department off the channel", func(t *testing.T, f *recipientFixture, _ *Users, rule *channelRule) {
			rule.setDepts("alpha")
			if moved, err := f.devices.NarrowChannel(f.ctx, []string{"com.example.portal"}, "alpha", rule.includes("alpha")); err != nil || moved != 0 {
				t.Fatalf("moved %d, %v; want 0 (the device is not written yet)", moved, err)
			}
		}},
		{"an admin moves the user to another department", func(t *testing.T, f *recipientFixture, users *Users, _ *channelRule) {
			admin := &auth.Principal{UserID: "admin-actor", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
			if _, err := users.Update(f.ctx, admin, "ivy", UserUpdate{Department: ptr("Sales")}); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(change.name, func(t *testing.T) {
			rule := alphaForIT()
			f, users := newChannelFixture(t, newRecipientFixture, rule)
			f.user(t, "ivy", "IT", StatusActive, auth.RoleEmployee)
			ivy := &auth.Principal{UserID: "ivy", Roles: []auth.Role{auth.RoleEmployee}, Department: "IT"} // as the session read it
			f.checkInApp(t, ivy, "phone", "com.example.portal", "stable")
			decided, proceed := make(chan string), make(chan struct{})
			var once sync.Once
			rule.hold = func(_ *auth.Principal, channel string) {
				once.Do(func() { decided <- channel; <-proceed })
			}
			done := make(chan *Device)
			go func() {
				in := phone()
				in.Channel = "alpha"
				d, err := f.devices.CheckIn(f.ctx, ivy, "phone", in)
				if err != nil {
					t.Error(err)
				}
				done <- d
			}()
			if first := <-decided; first != "alpha" {
				close(proceed)
				<-done
				t.Fatalf("the check-in decided %q before the change, want alpha", first)
			}
			change.do(t, f, users, rule)
			close(proceed)
			if d := <-done; d == nil || d.Channel != "stable" {
				t.Errorf("the check-in answered %+v, want stable", d)
			}
			if diff := cmp.Diff([]string{"ivy/phone:stable"}, f.channels(t)); diff != "" {
				t.Errorf("stored (-want +got):\n%s", diff)
			}
		})
	}
}

// TestChannelMovesUnderConcurrentCheckIns narrows a channel while its users check in: each
// user's tablet takes the push token of their phone on alpha (clearing it from the phone), and
// their watch checks in reporting alpha round after round. Afterwards every device is on stable,
// and the phones kept what the check-ins wrote: on FerretDB, whose updates are not atomic, the
// move's update must not write a phone back with the token it had.
func TestChannelMovesUnderConcurrentCheckIns(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			rule := alphaForIT()
			f, _ := newChannelFixture(t, src.new, rule)
			const users, rounds = 8, 5
			var ps []*auth.Principal
			for i := range users {
				ps = append(ps, f.user(t, fmt.Sprint("u", i), "IT", StatusActive, auth.RoleEmployee))
				f.checkInApp(t, ps[i], "phone", "com.example.portal", "alpha")
			}
			rule.setDepts("alpha") // ops take IT off alpha; the release service then narrows it
			var wg sync.WaitGroup
			start := make(chan struct{})
			for _, p := range ps {
				wg.Go(func() {
					<-start
					in := phone()
					in.PushToken, in.PushEnabled = "tok-"+p.UserID+"-phone", true // the phone's
					if _, err := f.devices.CheckIn(f.ctx, p, "tablet", in); err != nil {
						t.Error(err)
					}
				})
				wg.Go(func() {
					<-start
					for r := range rounds {
						in := phone()
						in.Channel, in.BuildNumber = "alpha", int64(200+r)
						if _, err := f.devices.CheckIn(f.ctx, p, "watch", in); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Go(func() {
				<-start
				if moved, err := f.devices.NarrowChannel(f.ctx, []string{"com.example.portal"}, "alpha", rule.includes("alpha")); err != nil || moved < users {
					t.Errorf("moved %d, %v; want at least the %d phones", moved, err, users)
				}
			})
			close(start)
			wg.Wait()
			for _, p := range ps {
				list, err := f.devices.List(f.ctx, p)
				if err != nil || len(list) != 3 {
					t.Fatalf("%s: %+v, %v", p.UserID, list, err)
				}
				for _, d := range list {
					if d.Channel != "stable" {
						t.Errorf("%s's %s is on %q", p.UserID, d.DeviceID, d.Channel)
					}
					if d.DeviceID == "phone" && d.HasPushToken {
						t.Errorf("%s's phone has its token back", p.UserID)
					}
					if d.DeviceID == "watch" && d.BuildNumber != 200+rounds-1 {
						t.Errorf("%s's watch is on build %d, want %d", p.UserID, d.BuildNumber, 200+rounds-1)
					}
				}
				if owner, key, err := f.devices.TokenOwner(f.ctx, "tok-"+p.UserID+"-phone"); err != nil || owner != p.UserID || key != p.UserID+"/tablet" {
					t.Errorf("the phone's token of %s: %s %s %v", p.UserID, owner, key, err)
				}
			}
			got, _, _ := f.stream(t, push.Audience{Channels: []string{"alpha"}}, "")
			if len(got) != 0 {
				t.Errorf("alpha's push audience: %v", got)
			}
		})
	}
}

// TestNarrowChannelAtDepartmentScale moves more devices than one batch, of more users than one
// query names, through the paths a large department takes (batched updates, one read of all
// users on the embedded database), and leaves the users the channel still includes.
func TestNarrowChannelAtDepartmentScale(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			f := src.new(t)
			defer func(was int) { batchSize = was }(batchSize)
			batchSize = 40 // the shared test database has no _id index: each batched update scans per device
			n := 3*batchSize + 10
			now := f.clock.Now()
			var users, devices []any
			for i := range n {
				id := fmt.Sprintf("u%05d", i)
				dept := "IT"
				if i%10 == 0 {
					dept = "QA" // alpha keeps QA
				}
				users = append(users, User{ID: id, EmployeeNo: "E" + id, Name: id, Department: dept, Status: StatusActive, CreatedAt: now, UpdatedAt: now})
				devices = append(devices, Device{Key: id + "/phone", UserID: id, DeviceID: "phone", Platform: PlatformAndroid,
					AppID: "com.example.portal", Channel: "alpha", PushToken: "tok-" + id, PushEnabled: true, CreatedAt: now, LastSeenAt: now})
			}
			if _, err := f.db.Collection(usersCollection).InsertMany(f.ctx, users); err != nil {
				t.Fatal(err)
			}
			if _, err := f.db.Collection(devicesCollection).InsertMany(f.ctx, devices); err != nil {
				t.Fatal(err)
			}
			f.loadView(t)
			rule := alphaForIT()
			rule.setDepts("alpha", "QA")
			moved, err := f.devices.NarrowChannel(f.ctx, []string{"com.example.portal"}, "alpha", rule.includes("alpha"))
			if want := n - n/10; err != nil || moved != want {
				t.Fatalf("moved %d, %v; want %d", moved, err, want)
			}
			got, _, _ := f.stream(t, push.Audience{Channels: []string{"alpha"}}, "")
			if len(got) != n/10 || got[0] != "u00000/phone" || got[1] != "u00010/phone" {
				t.Errorf("alpha's push audience: %d devices, %v...", len(got), got[:min(3, len(got))])
			}
		})
	}
}
