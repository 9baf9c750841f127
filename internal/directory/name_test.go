package directory

import (
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// TestNameReadsTheViewOnceLoaded: Users.Name answers from the recipient view once it is loaded
// (a name changed behind the view's back is not seen until a reload, proving the view is read),
// follows the renames this process makes, and reads the database for users the view lacks.
func TestNameReadsTheViewOnceLoaded(t *testing.T) {
	f := newViewFixture(t)
	users := &Users{DB: f.db, Argon: cheapArgon, Sessions: &fakeRevoker{}, Now: f.clock.Now, View: f.recipients.View}
	admin := &auth.Principal{UserID: "admin-actor", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	f.user(t, "ann", "Sales", StatusActive, auth.RoleEmployee) // named "ann"
	// rename changes a name behind the view's back.
	rename := func(id, name string) {
		t.Helper()
		if _, err := f.db.Collection(usersCollection).UpdateOne(f.ctx, bson.D{{Key: "_id", Value: id}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: name}}}}); err != nil {
			t.Fatal(err)
		}
	}
	name := func(id, want string) {
		t.Helper()
		if got, err := users.Name(f.ctx, id); err != nil || got != want {
			t.Errorf("Name(%s) = %q, %v; want %q", id, got, err, want)
		}
	}

	t.Run("reads the database while the view is not loaded", func(t *testing.T) {
		rename("ann", "Ann Before")
		name("ann", "Ann Before")
	})
	if err := f.recipients.View.Refresh(f.ctx); err != nil {
		t.Fatal(err)
	}
	t.Run("answers from the loaded view", func(t *testing.T) {
		rename("ann", "Ann Behind")
		name("ann", "Ann Before")
		if err := f.recipients.View.Refresh(f.ctx); err != nil {
			t.Fatal(err)
		}
		name("ann", "Ann Behind")
	})
	t.Run("follows a rename through Users", func(t *testing.T) {
		n := "Ann Renamed"
		if _, err := users.Update(f.ctx, admin, "ann", UserUpdate{Name: &n}); err != nil {
			t.Fatal(err)
		}
		name("ann", n)
	})
	t.Run("reads the database for a user the view lacks", func(t *testing.T) {
		f.user(t, "cy", "Sales", StatusActive, auth.RoleEmployee)
		name("cy", "cy")
		if _, err := users.Name(f.ctx, "nobody"); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("Name(nobody): %v, want not_found", err)
		}
	})
}
