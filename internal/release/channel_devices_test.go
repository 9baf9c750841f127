package release

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/directory"
)

// deviceWorld is a release fixture whose Devices is the real device registry over the same
// database, with users in the directory.
type deviceWorld struct {
	*fixture
	devices *directory.Devices
	users   map[string]*auth.Principal // by name
}

func newDeviceWorld(t *testing.T) *deviceWorld {
	t.Helper()
	f := newFixture(t)
	w := &deviceWorld{fixture: f, devices: &directory.Devices{DB: f.svc.DB}, users: map[string]*auth.Principal{}}
	f.svc.Devices = w.devices
	return w
}

// user creates a user in the directory; the principal it returns has no department, as the
// move must read it from the directory.
func (w *deviceWorld) user(t *testing.T, name, dept string, roles ...auth.Role) *auth.Principal {
	t.Helper()
	dir := &directory.Users{DB: w.svc.DB, Argon: auth.Argon2Params{MemoryKiB: 1024, Time: 1, Threads: 1}}
	admin := &auth.Principal{UserID: "admin-actor", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	u, _, err := dir.Create(t.Context(), admin, directory.CreateUser{EmployeeNo: "E-" + name, Name: name, Department: dept, Roles: roles})
	if err != nil {
		t.Fatal(err)
	}
	w.users[name] = &auth.Principal{UserID: u.ID}
	return w.users[name]
}

// checkIn checks in name's device id from app on channel (stored as reported: this Devices has
// no channel rule).
func (w *deviceWorld) checkIn(t *testing.T, name, id, app, channel string) {
	t.Helper()
	in := directory.DeviceInput{Platform: directory.PlatformAndroid, Model: "Pixel 8", OSVersion: "15", AppID: app,
		AppVersion: "1.0.0", BuildNumber: 100, Channel: channel}
	if _, err := w.devices.CheckIn(t.Context(), w.users[name], id, in); err != nil {
		t.Fatal(err)
	}
}

// channels returns "name/device:channel" of every device, sorted.
func (w *deviceWorld) channels(t *testing.T) []string {
	t.Helper()
	var out []string
	for name, p := range w.users {
		list, err := w.devices.List(t.Context(), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list {
			out = append(out, name+"/"+d.DeviceID+":"+d.Channel)
		}
	}
	slices.Sort(out)
	return out
}

func TestPutChannelMovesTheDevicesOfUsersItLeavesOut(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := t.Context()
	w.app(t, "field-app") // Android com.example.fieldapp, iOS com.example.field-app
	put := func(channel string, in ChannelInput) {
		t.Helper()
		if _, err := w.svc.PutChannel(ctx, opsUser, "field-app", channel, in); err != nil {
			t.Fatal(err)
		}
	}
	put("alpha", ChannelInput{Departments: []string{"IT", "QA"}})
	put("qa", ChannelInput{Roles: []string{"approver"}})
	w.user(t, "ivy", "IT")
	w.user(t, "mia", "IT")
	w.user(t, "sam", "QA")
	w.user(t, "ken", "Sales", auth.RoleApprover)
	for _, invited := range []string{"mia", "ken"} {
		if _, err := w.svc.Invite(ctx, opsUser, "field-app", "alpha", w.users[invited].UserID); err != nil {
			t.Fatal(err)
		}
	}
	w.checkIn(t, "ivy", "phone", "com.example.fieldapp", "alpha")
	w.checkIn(t, "ivy", "tablet", "com.example.field-app", "alpha")
	w.checkIn(t, "ivy", "laptop", "com.example.other", "alpha") // another app's alpha
	w.checkIn(t, "mia", "phone", "com.example.fieldapp", "alpha")
	w.checkIn(t, "sam", "phone", "com.example.fieldapp", "alpha")
	w.checkIn(t, "ken", "phone", "com.example.fieldapp", "alpha")
	w.checkIn(t, "ken", "tablet", "com.example.fieldapp", "qa")

	t.Run("taking a department off moves its users' devices, not explicit members'", func(t *testing.T) {
		put("alpha", ChannelInput{Departments: []string{"QA"}})
		want := []string{
			"ivy/laptop:alpha", "ivy/phone:stable", "ivy/tablet:stable",
			"ken/phone:alpha", "ken/tablet:qa", "mia/phone:alpha", "sam/phone:alpha",
		}
		if diff := cmp.Diff(want, w.channels(t)); diff != "" {
			t.Errorf("devices (-want +got):\n%s", diff)
		}
	})
	t.Run("clearing the departments leaves the explicit members", func(t *testing.T) {
		put("alpha", ChannelInput{})
		want := []string{
			"ivy/laptop:alpha", "ivy/phone:stable", "ivy/tablet:stable",
			"ken/phone:alpha", "ken/tablet:qa", "mia/phone:alpha", "sam/phone:stable",
		}
		if diff := cmp.Diff(want, w.channels(t)); diff != "" {
			t.Errorf("devices (-want +got):\n%s", diff)
		}
	})
	t.Run("taking a role off a custom channel moves its users' devices", func(t *testing.T) {
		put("qa", ChannelInput{Roles: []string{"ops"}})
		if got := w.channels(t); !slices.Contains(got, "ken/tablet:stable") {
			t.Errorf("devices: %v", got)
		}
	})
}

// failingDevices fails every move.
type failingDevices struct{ narrowed int }

func (f *failingDevices) LeftChannel(context.Context, string, []string, string) error {
	return errors.New("database down")
}

func (f *failingDevices) NarrowChannel(context.Context, []string, string, func(*auth.Principal) bool) (int, error) {
	f.narrowed++
	return 0, errors.New("database down")
}

func TestAFailedMoveDoesNotFailTheChannelChangeAndAPutRetriesIt(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := t.Context()
	w.app(t, "portal")
	in := ChannelInput{Departments: []string{"IT"}}
	if _, err := w.svc.PutChannel(ctx, opsUser, "portal", "alpha", in); err != nil {
		t.Fatal(err)
	}
	w.user(t, "ivy", "IT")
	w.checkIn(t, "ivy", "phone", "com.example.portal", "alpha")

	failing := &failingDevices{}
	w.svc.Devices = failing
	c, err := w.svc.PutChannel(ctx, opsUser, "portal", "alpha", ChannelInput{})
	if err != nil || len(c.Departments) != 0 {
		t.Fatalf("put = %+v, %v; want the change made", c, err)
	}
	if failing.narrowed != 1 {
		t.Fatalf("narrowed %d times", failing.narrowed)
	}
	if diff := cmp.Diff([]string{"ivy/phone:alpha"}, w.channels(t)); diff != "" {
		t.Fatalf("devices (-want +got):\n%s", diff)
	}

	w.svc.Devices = w.devices
	if _, err := w.svc.PutChannel(ctx, opsUser, "portal", "alpha", ChannelInput{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ivy/phone:stable"}, w.channels(t)); diff != "" {
		t.Errorf("after putting the same settings again (-want +got):\n%s", diff)
	}
}
