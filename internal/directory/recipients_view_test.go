package directory

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/push"
)

func TestRecipientViewSeesThisProcessWrites(t *testing.T) {
	f := newViewFixture(t)
	users := &Users{DB: f.db, Argon: cheapArgon, Sessions: &fakeRevoker{}, Now: f.clock.Now, View: f.recipients.View}
	admin := &auth.Principal{UserID: "admin-actor", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	ann := f.user(t, "ann", "Sales", StatusActive, auth.RoleEmployee)
	f.device(t, ann, "phone", "stable", "tok-ann", true)
	if got, _, _ := f.stream(t, push.Audience{All: true}, ""); !slices.Equal(got, []string{"ann/phone"}) {
		t.Fatalf("initial view %v", got) // the view is loaded from here on
	}
	all := push.Audience{All: true}
	var bo string

	t.Run("adds a created user and a checked-in device", func(t *testing.T) {
		u, _, err := users.Create(f.ctx, admin, CreateUser{EmployeeNo: "E2001", Name: "Bo", Department: "HR",
			Roles: []auth.Role{auth.RoleApprover}})
		if err != nil {
			t.Fatal(err)
		}
		bo = u.ID
		f.device(t, &auth.Principal{UserID: bo}, "tablet", "beta", "tok-bo", true)
		got, _, _ := f.stream(t, push.Audience{Roles: []string{"approver"}}, "")
		if diff := cmp.Diff([]string{bo + "/tablet"}, got); diff != "" {
			t.Fatalf("approvers (-want +got):\n%s", diff)
		}
	})
	t.Run("moves a token to the device that checked in with it", func(t *testing.T) {
		cy := f.user(t, "cy", "Sales", StatusActive, auth.RoleEmployee) // written behind the view's back
		if err := f.recipients.View.Refresh(f.ctx); err != nil {
			t.Fatal(err)
		}
		f.device(t, cy, "phone", "stable", "tok-ann", true)
		user, key, err := f.recipients.TokenOwner(f.ctx, "tok-ann")
		if err != nil || user != "cy" || key != "cy/phone" {
			t.Fatalf("owner of tok-ann: %s %s %v", user, key, err)
		}
		got, _, _ := f.stream(t, push.Audience{Departments: []string{"Sales"}}, "")
		if diff := cmp.Diff([]string{"ann", "cy/phone"}, got); diff != "" {
			t.Fatalf("Sales (-want +got):\n%s", diff)
		}
	})
	t.Run("drops a removed token", func(t *testing.T) {
		if err := f.recipients.RemoveToken(f.ctx, "tok-ann"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.recipients.TokenOwner(f.ctx, "tok-ann"); !apperr.Is(err, apperr.NotFound) {
			t.Fatalf("owner of a removed token: %v", err)
		}
		got, _, _ := f.stream(t, push.Audience{UserIDs: []string{"cy"}}, "")
		if diff := cmp.Diff([]string{"cy"}, got); diff != "" {
			t.Fatalf("cy (-want +got):\n%s", diff)
		}
	})
	t.Run("forgets a deleted device", func(t *testing.T) {
		f.device(t, ann, "phone", "stable", "tok-ann-2", true)
		if got, _, _ := f.stream(t, push.Audience{UserIDs: []string{"ann"}}, ""); !slices.Equal(got, []string{"ann/phone"}) {
			t.Fatalf("ann before the delete: %v", got)
		}
		if err := f.devices.Delete(f.ctx, ann, "phone"); err != nil {
			t.Fatal(err)
		}
		got, _, _ := f.stream(t, push.Audience{UserIDs: []string{"ann"}}, "")
		if diff := cmp.Diff([]string{"ann"}, got); diff != "" {
			t.Fatalf("ann (-want +got):\n%s", diff)
		}
	})
	t.Run("leaves out a user disabled by an admin", func(t *testing.T) {
		if _, err := users.Update(f.ctx, admin, bo, UserUpdate{Status: ptr(StatusDisabled)}); err != nil {
			t.Fatal(err)
		}
		got, _, _ := f.stream(t, all, "")
		if slices.ContainsFunc(got, func(k string) bool { return k == bo || k == bo+"/tablet" }) {
			t.Fatalf("disabled user still reached: %v", got)
		}
	})
	t.Run("ignores writes made behind its back until it reloads", func(t *testing.T) {
		f.user(t, "di", "Ops", StatusActive, auth.RoleEmployee)
		if got, _, _ := f.stream(t, push.Audience{UserIDs: []string{"di"}}, ""); len(got) != 0 {
			t.Fatalf("stale view streamed %v", got)
		}
		f.recipients.View.MaxAge = time.Nanosecond
		defer func() { f.recipients.View.MaxAge = 0 }()
		if got, _, _ := f.stream(t, push.Audience{UserIDs: []string{"di"}}, ""); !slices.Equal(got, []string{"di"}) {
			t.Fatalf("reloaded view streamed %v", got)
		}
	})
}

func TestRecipientViewResumesByKey(t *testing.T) {
	f := newViewFixture(t)
	f.seedDevices(t, 1234)
	all := push.Audience{All: true}
	first, cursors, sizes := f.stream(t, all, "")

	t.Run("yields batches of at most 500 in key order", func(t *testing.T) {
		if len(first) != 1234 || !slices.Equal(sizes, []int{500, 500, 234}) || cursors[0] != "key:u00499/phone" {
			t.Fatalf("%d recipients in batches %v, cursors %v", len(first), sizes, cursors)
		}
	})
	t.Run("continues after the key a cursor names, whatever changed before it", func(t *testing.T) {
		if err := f.devices.Delete(f.ctx, &auth.Principal{UserID: "u00003"}, "phone"); err != nil {
			t.Fatal(err)
		}
		got, _, _ := f.stream(t, all, cursors[0])
		// u00003 lost its device, so it follows as a user-only entry; the other 499 of the
		// first batch are not repeated.
		if len(got) != 735 || !slices.Contains(got, "u00003") || slices.Contains(got, "u00004/phone") ||
			!slices.Contains(got, "u00500/phone") {
			t.Fatalf("%d recipients after the cursor", len(got))
		}
	})
	t.Run("starts over from a database cursor", func(t *testing.T) {
		got, _, _ := f.stream(t, all, "500:u00499/phone")
		if len(got) != 1234 {
			t.Fatalf("%d recipients from a foreign cursor", len(got))
		}
	})
}

func TestRecipientViewReloadKeepsConcurrentWrites(t *testing.T) {
	f := newViewFixture(t)
	f.seedDevices(t, 300)
	view := f.recipients.View
	if err := view.Refresh(f.ctx); err != nil {
		t.Fatal(err)
	}
	// Check-ins race with reloads: whichever order they take, the view must end up as the
	// database is.
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 10 {
				p := &auth.Principal{UserID: fmt.Sprintf("u%05d", w*10+i)}
				in := phone()
				in.PushToken, in.PushEnabled = fmt.Sprintf("tok-new-%d-%d", w, i), true
				if _, err := f.devices.CheckIn(f.ctx, p, "tablet", in); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Go(func() {
		for range 5 {
			if err := view.Refresh(f.ctx); err != nil {
				t.Error(err)
			}
		}
	})
	wg.Wait()
	fromView, _, _ := f.stream(t, push.Audience{All: true}, "")
	f.recipients.View = nil
	fromDB, _, _ := f.stream(t, push.Audience{All: true}, "")
	if len(fromDB) != 380 {
		t.Fatalf("database has %d recipients, want 380", len(fromDB))
	}
	if diff := cmp.Diff(fromDB, fromView); diff != "" {
		t.Fatalf("view differs from the database (-db +view):\n%s", diff)
	}
}

// Concurrent first uses of a cold view load it once: the callers that waited for the first
// load used to load the whole directory again, one after another.
func TestRecipientViewLoadsOnceForConcurrentFirstUses(t *testing.T) {
	f := newViewFixture(t)
	ann := f.user(t, "ann", "Sales", StatusActive, auth.RoleEmployee)
	f.device(t, ann, "phone", "stable", "tok-ann", true)
	v := &RecipientView{DB: f.db}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if err := v.ensure(f.ctx); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if v.loads != 1 {
		t.Fatalf("%d loads, want 1", v.loads)
	}
}
