package directory

import (
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func TestAdminReadsAUsersDevices(t *testing.T) {
	f := newDeviceFixture(t)
	f.checkIn(t, f.alice, "a-phone", phone())
	f.clock.Advance(time.Minute)
	tablet := phone()
	tablet.Model = "Tab S9"
	f.checkIn(t, f.alice, "a-tablet", tablet)
	f.checkIn(t, f.bob, "b-phone", phone())

	t.Run("an admin sees every device of the user, most recently seen first", func(t *testing.T) {
		list, err := f.devices.OfUser(f.ctx, f.bob, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].DeviceID != "a-tablet" || list[1].DeviceID != "a-phone" {
			t.Fatalf("alice's devices as the admin sees them: %+v", list)
		}
	})
	t.Run("a user without devices has none", func(t *testing.T) {
		list, err := f.devices.OfUser(f.ctx, f.bob, "nobody")
		if err != nil || len(list) != 0 {
			t.Fatalf("got %+v, %v", list, err)
		}
	})
	t.Run("refuses anyone but an admin", func(t *testing.T) {
		ops := &auth.Principal{UserID: "ops", Roles: roles(auth.RoleEmployee, auth.RoleOps)}
		_, err := f.devices.OfUser(f.ctx, ops, "alice")
		wantCode(t, err, apperr.Forbidden, "")
		_, err = f.devices.OfUser(f.ctx, f.alice, "alice")
		wantCode(t, err, apperr.Forbidden, "")
	})
	t.Run("names the missing user id", func(t *testing.T) {
		_, err := f.devices.OfUser(f.ctx, f.bob, "")
		wantCode(t, err, apperr.Invalid, "user_id")
	})
}
