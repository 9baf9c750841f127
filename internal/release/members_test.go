package release

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func TestMembership(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "alpha", ChannelInput{Departments: []string{"IT"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true, Cap: 2}); err != nil {
		t.Fatal(err)
	}
	names := func(vs []ChannelView) []string {
		var out []string
		for _, v := range vs {
			out = append(out, fmt.Sprintf("%s member=%v join=%v leave=%v", v.Name, v.Member, v.CanJoin, v.CanLeave))
		}
		return out
	}

	t.Run("a non-member cannot see the alpha channel", func(t *testing.T) {
		vs, err := f.svc.Channels(ctx, employee, "portal")
		if err != nil {
			t.Fatal(err)
		}
		got := names(vs)
		want := []string{"beta member=false join=true leave=false", "stable member=true join=false leave=false"}
		if !slices.Equal(got, want) {
			t.Fatalf("channels = %v, want %v", got, want)
		}
		_, err = f.svc.Join(ctx, employee, "portal", "alpha")
		wantCode(t, err, apperr.NotFound)
		_, err = f.svc.Leave(ctx, employee, "portal", "alpha")
		wantCode(t, err, apperr.NotFound)
	})
	t.Run("IT staff are in alpha by department", func(t *testing.T) {
		apps, err := f.svc.Apps(ctx, itStaff)
		if err != nil {
			t.Fatal(err)
		}
		got := names(apps[0].Channels)
		if len(got) != 3 || got[0] != "alpha member=true join=false leave=false" {
			t.Fatalf("channels = %v", got)
		}
	})
	t.Run("joining beta takes a seat and is idempotent", func(t *testing.T) {
		for range 2 {
			v, err := f.svc.Join(ctx, employee, "portal", "beta")
			if err != nil || !v.Member || !v.CanLeave {
				t.Fatalf("join = %+v, %v", v, err)
			}
		}
		vs, err := f.svc.Channels(ctx, employee, "portal")
		if err != nil {
			t.Fatal(err)
		}
		if vs[0].Name != "beta" || !vs[0].Member || vs[0].SeatsLeft == nil || *vs[0].SeatsLeft != 1 {
			t.Fatalf("beta = %+v", vs[0])
		}
	})
	t.Run("a full channel refuses joins and invitations", func(t *testing.T) {
		if _, err := f.svc.Invite(ctx, opsUser, "portal", "beta", "u-2"); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Join(ctx, itStaff, "portal", "beta")
		wantCode(t, err, apperr.Conflict)
		_, err = f.svc.Invite(ctx, opsUser, "portal", "beta", "u-3")
		wantCode(t, err, apperr.Conflict)
	})
	t.Run("leaving frees the seat for the next user", func(t *testing.T) {
		v, err := f.svc.Leave(ctx, employee, "portal", "beta")
		if err != nil || v.Member || !v.CanJoin {
			t.Fatalf("leave = %+v, %v", v, err)
		}
		if _, err := f.svc.Join(ctx, itStaff, "portal", "beta"); err != nil {
			t.Fatal(err)
		}
		ms, err := f.svc.ListMembers(ctx, opsUser, "portal", "beta")
		if err != nil || len(ms) != 2 {
			t.Fatalf("members = %+v, %v", ms, err)
		}
	})
	t.Run("a channel without opt-in is by invitation only", func(t *testing.T) {
		if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "pilot", ChannelInput{Roles: []string{"beta_tester"}}); err != nil {
			t.Fatal(err)
		}
		tester := &auth.Principal{UserID: "u-t", Roles: []auth.Role{auth.RoleBetaTester}}
		if _, err := f.svc.Join(ctx, tester, "portal", "pilot"); err != nil { // already in by role
			t.Fatal(err)
		}
		if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{}); err != nil {
			t.Fatal(err)
		}
		_, err := f.svc.Join(ctx, employee, "portal", "beta")
		wantCode(t, err, apperr.Forbidden)
		_, err = f.svc.Join(ctx, employee, "portal", "pilot")
		wantCode(t, err, apperr.NotFound) // custom channels of others stay hidden
		if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: false, Cap: 2}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("ops manage members and the hook follows", func(t *testing.T) {
		_, err := f.svc.Invite(ctx, opsUser, "portal", "alpha", "ghost-1")
		wantCode(t, err, apperr.NotFound)
		_, err = f.svc.Invite(ctx, opsUser, "portal", "stable", "u-9")
		wantCode(t, err, apperr.Invalid)
		if _, err := f.svc.Invite(ctx, opsUser, "portal", "alpha", "u-9"); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RemoveMember(ctx, opsUser, "portal", "alpha", "u-9"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.svc.RemoveMember(ctx, opsUser, "portal", "alpha", "u-9"), apperr.NotFound)
		f.hook.mu.Lock()
		defer f.hook.mu.Unlock()
		want := []string{"grant u-9 ch:portal/alpha", "revoke u-9 ch:portal/alpha"}
		if got := f.hook.events[len(f.hook.events)-2:]; !slices.Equal(got, want) {
			t.Fatalf("hook events = %v, want them to end with %v", f.hook.events, want)
		}
	})
}

// TestSeatCapUnderConcurrentJoins joins 16 users at once to a channel capped at 5: the seats,
// claimed by unique inserts, must admit exactly 5 on the embedded database, whose updates are
// not atomic.
func TestSeatCapUnderConcurrentJoins(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true, Cap: 5}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	joined, full := 0, 0
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &auth.Principal{UserID: fmt.Sprintf("u-%02d", i), Roles: []auth.Role{auth.RoleEmployee}}
			_, err := f.svc.Join(ctx, p, "portal", "beta")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				joined++
			case apperr.Is(err, apperr.Conflict):
				full++
			default:
				t.Errorf("join %s: %v", p.UserID, err)
			}
		}()
	}
	wg.Wait()
	ms, err := f.svc.ListMembers(ctx, opsUser, "portal", "beta")
	if err != nil {
		t.Fatal(err)
	}
	seats := map[int]bool{}
	for _, m := range ms {
		seats[m.Seat] = true
	}
	if joined != 5 || full != 11 || len(ms) != 5 || len(seats) != 5 {
		t.Fatalf("joined %d, full %d, %d members on %d seats; want 5, 11, 5, 5", joined, full, len(ms), len(seats))
	}
}

// TestOrphanSeatIsReclaimed: a crash between taking a seat and writing the membership (or
// between the two deletes of a leave) leaves a seat nobody holds; once it is old enough, the
// next joiner of the full channel frees and takes it.
func TestOrphanSeatIsReclaimed(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true, Cap: 1}); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	if _, err := f.svc.coll(seatsColl).InsertOne(ctx, bson.D{{Key: "_id", Value: "portal/beta#1"}, {Key: "user_id", Value: "gone"}, {Key: "at", Value: at}}); err != nil {
		t.Fatal(err)
	}
	t.Run("a young orphan may still be a join in flight", func(t *testing.T) {
		f.svc.Now = func() time.Time { return at.Add(orphanAge / 2) }
		_, err := f.svc.Join(ctx, employee, "portal", "beta")
		wantCode(t, err, apperr.Conflict)
	})
	t.Run("an old orphan is reclaimed", func(t *testing.T) {
		f.svc.Now = func() time.Time { return at.Add(2 * orphanAge) }
		if _, err := f.svc.Join(ctx, employee, "portal", "beta"); err != nil {
			t.Fatal(err)
		}
		ms, err := f.svc.ListMembers(ctx, opsUser, "portal", "beta")
		if err != nil || len(ms) != 1 || ms[0].UserID != employee.UserID || ms[0].Seat != 1 {
			t.Fatalf("members = %+v, %v", ms, err)
		}
	})
}

// TestACapSetLaterBoundsTheGroup: members who joined before a cap was set (or hold seats above a
// lowered one) are given seats within it, so joiners find only the seats that are left. Before,
// 3 members and a new cap of 5 let concurrent joiners take all 5 seats: 8 members.
func TestACapSetLaterBoundsTheGroup(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true}); err != nil {
		t.Fatal(err)
	}
	join := func(user string) error {
		_, err := f.svc.Join(ctx, &auth.Principal{UserID: user, Roles: []auth.Role{auth.RoleEmployee}}, "portal", "beta")
		return err
	}
	for i := range 3 {
		if err := join(fmt.Sprintf("early-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true, Cap: 5}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := join(fmt.Sprintf("late-%d", i)); err != nil && !apperr.Is(err, apperr.Conflict) {
				t.Errorf("join: %v", err)
			}
		}()
	}
	wg.Wait()
	ms, err := f.svc.ListMembers(ctx, opsUser, "portal", "beta")
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 5 {
		t.Fatalf("%d members, want the cap of 5", len(ms))
	}
	// Lowering the cap re-seats the members within it; nobody is removed, and nobody joins.
	if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true, Cap: 4}); err != nil {
		t.Fatal(err)
	}
	if err := join("later"); !apperr.Is(err, apperr.Conflict) {
		t.Fatalf("a join over the lowered cap: %v, want conflict", err)
	}
	ms, _ = f.svc.ListMembers(ctx, opsUser, "portal", "beta")
	if len(ms) != 5 {
		t.Fatalf("%d members after lowering the cap, want the 5 kept", len(ms))
	}
	// Two leave: the unseated member takes a freed seat, so only one joiner gets in.
	for _, m := range ms[:2] {
		if _, err := f.svc.Leave(ctx, &auth.Principal{UserID: m.UserID, Roles: []auth.Role{auth.RoleEmployee}}, "portal", "beta"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := join(fmt.Sprintf("after-%d", i)); err != nil && !apperr.Is(err, apperr.Conflict) {
				t.Errorf("join: %v", err)
			}
		}()
	}
	wg.Wait()
	if ms, _ := f.svc.ListMembers(ctx, opsUser, "portal", "beta"); len(ms) != 4 {
		t.Fatalf("%d members after two left and six joined, want the cap of 4", len(ms))
	}
}
