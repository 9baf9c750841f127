package directory

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

type deviceFixture struct {
	ctx     context.Context
	devices *Devices
	clock   *testenv.Clock
	alice   *auth.Principal
	bob     *auth.Principal
}

func newDeviceFixture(t *testing.T) *deviceFixture {
	t.Helper()
	f := &deviceFixture{
		ctx:   context.Background(),
		clock: newClock(),
		alice: &auth.Principal{UserID: "alice", Roles: roles(auth.RoleEmployee)},
		bob:   &auth.Principal{UserID: "bob", Roles: roles(auth.RoleEmployee, auth.RoleAdmin)},
	}
	f.devices = &Devices{DB: testenv.Mongo(t), Now: f.clock.Now}
	if err := f.devices.EnsureIndexes(f.ctx); err != nil {
		t.Fatal(err)
	}
	return f
}

func phone() DeviceInput {
	return DeviceInput{Platform: PlatformAndroid, Model: "Pixel 8", OSVersion: "14", AppID: "com.example.portal",
		AppVersion: "1.2.0", BuildNumber: 120}
}

func (f *deviceFixture) checkIn(t *testing.T, p *auth.Principal, id string, in DeviceInput) *Device {
	t.Helper()
	d, err := f.devices.CheckIn(f.ctx, p, id, in)
	if err != nil {
		t.Fatalf("check in %s/%s: %v", p.UserID, id, err)
	}
	return d
}

func TestCheckIn(t *testing.T) {
	f := newDeviceFixture(t)
	first := f.checkIn(t, f.alice, "phone-1", phone())
	t.Run("creates the device with defaults", func(t *testing.T) {
		if first.Channel != DefaultChannel || first.Locale != DefaultLocale || first.Timezone != DefaultTimezone ||
			!first.CreatedAt.Equal(f.clock.Now()) || !first.LastSeenAt.Equal(first.CreatedAt) || first.HasPushToken {
			t.Fatalf("got %+v", first)
		}
	})
	t.Run("updates fields and last_seen_at on the next check-in", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		in := phone()
		in.AppVersion, in.BuildNumber, in.Channel, in.Locale = "1.3.0", 130, "beta", "en"
		f.checkIn(t, f.alice, "phone-1", in)
		list, err := f.devices.List(f.ctx, f.alice)
		if err != nil || len(list) != 1 {
			t.Fatalf("list %+v, %v", list, err)
		}
		d := list[0]
		if d.AppVersion != "1.3.0" || d.BuildNumber != 130 || d.Channel != "beta" || d.Locale != "en" ||
			!d.CreatedAt.Equal(first.CreatedAt) || !d.LastSeenAt.Equal(f.clock.Now()) {
			t.Fatalf("got %+v", d)
		}
	})
	t.Run("lists the most recently seen device first", func(t *testing.T) {
		f.clock.Advance(time.Hour)
		f.checkIn(t, f.alice, "tablet-1", phone())
		list, _ := f.devices.List(f.ctx, f.alice)
		if len(list) != 2 || list[0].DeviceID != "tablet-1" || list[1].DeviceID != "phone-1" {
			t.Fatalf("got %+v", list)
		}
	})
	t.Run("needs a principal", func(t *testing.T) {
		_, err := f.devices.CheckIn(f.ctx, nil, "phone-1", phone())
		wantCode(t, err, apperr.Unauthorized, "")
	})
}

func TestCheckInValidation(t *testing.T) {
	f := newDeviceFixture(t)
	cases := []struct {
		name     string
		deviceID string
		mutate   func(*DeviceInput)
		field    string
	}{
		{"accepts a full report", "ok-1", func(*DeviceInput) {}, ""},
		{"accepts every allowed device id character", "Ab0._:-", func(*DeviceInput) {}, ""},
		{"rejects an empty device id", "", func(*DeviceInput) {}, "device_id"},
		{"rejects a device id of 129 characters", strings.Repeat("d", 129), func(*DeviceInput) {}, "device_id"},
		{"rejects a slash in a device id", "a/b", func(*DeviceInput) {}, "device_id"},
		{"rejects an unknown platform", "d", func(in *DeviceInput) { in.Platform = "windows" }, "platform"},
		{"rejects a missing platform", "d", func(in *DeviceInput) { in.Platform = "" }, "platform"},
		{"accepts ios", "d", func(in *DeviceInput) { in.Platform = PlatformIOS }, ""},
		{"rejects a model of 65 characters", "d", func(in *DeviceInput) { in.Model = strings.Repeat("m", 65) }, "model"},
		{"rejects a control character in the OS version", "d", func(in *DeviceInput) { in.OSVersion = "14\x00" }, "os_version"},
		{"rejects an app version of 65 characters", "d", func(in *DeviceInput) { in.AppVersion = strings.Repeat("1", 65) }, "app_version"},
		{"rejects an app id without a dot", "d", func(in *DeviceInput) { in.AppID = "portal" }, "app_id"},
		{"rejects an app id with an empty segment", "d", func(in *DeviceInput) { in.AppID = "com..portal" }, "app_id"},
		{"rejects an app id with a space", "d", func(in *DeviceInput) { in.AppID = "com.example portal" }, "app_id"},
		{"rejects an app id of 129 characters", "d", func(in *DeviceInput) { in.AppID = "com." + strings.Repeat("a", 125) }, "app_id"},
		{"accepts an iOS bundle id with a dash", "d", func(in *DeviceInput) { in.AppID = "com.example.my-portal" }, ""},
		{"rejects a negative build number", "d", func(in *DeviceInput) { in.BuildNumber = -1 }, "build_number"},
		{"rejects a build number over 2^31-1", "d", func(in *DeviceInput) { in.BuildNumber = 1 << 31 }, "build_number"},
		{"accepts the largest build number", "d", func(in *DeviceInput) { in.BuildNumber = 1<<31 - 1 }, ""},
		{"rejects an upper-case channel", "d", func(in *DeviceInput) { in.Channel = "Beta" }, "channel"},
		{"rejects a channel of 33 characters", "d", func(in *DeviceInput) { in.Channel = strings.Repeat("c", 33) }, "channel"},
		{"accepts a channel with digits, dash and underscore", "d", func(in *DeviceInput) { in.Channel = "beta_2-x" }, ""},
		{"rejects an unknown locale", "d", func(in *DeviceInput) { in.Locale = "fr-FR" }, "locale"},
		{"rejects an unknown time zone", "d", func(in *DeviceInput) { in.Timezone = "Moon/Base" }, "timezone"},
		{"rejects a push token of 4097 characters", "d", func(in *DeviceInput) { in.PushToken = strings.Repeat("t", 4097) }, "push_token"},
		{"rejects a push token with a space", "d", func(in *DeviceInput) { in.PushToken = "abc def" }, "push_token"},
		{"accepts a push token of 4096 characters", "d", func(in *DeviceInput) { in.PushToken = strings.Repeat("t", 4096) }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := phone()
			tc.mutate(&in)
			_, err := f.devices.CheckIn(f.ctx, f.alice, tc.deviceID, in)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			wantCode(t, err, apperr.Invalid, tc.field)
		})
	}
}

func TestDevicesAreOwnedByTheirUser(t *testing.T) {
	f := newDeviceFixture(t)
	in := phone()
	in.Model = "Alice's phone"
	f.checkIn(t, f.alice, "shared-id", in)
	t.Run("another user sees none of them", func(t *testing.T) {
		list, err := f.devices.List(f.ctx, f.bob)
		if err != nil || len(list) != 0 {
			t.Fatalf("bob sees %+v, %v", list, err)
		}
	})
	t.Run("another user cannot delete one, even as admin", func(t *testing.T) {
		wantCode(t, f.devices.Delete(f.ctx, f.bob, "shared-id"), apperr.NotFound, "")
	})
	t.Run("another user with the same device id gets their own record", func(t *testing.T) {
		b := phone()
		b.Model = "Bob's phone"
		f.checkIn(t, f.bob, "shared-id", b)
		alice, _ := f.devices.List(f.ctx, f.alice)
		bob, _ := f.devices.List(f.ctx, f.bob)
		if len(alice) != 1 || alice[0].Model != "Alice's phone" || len(bob) != 1 || bob[0].Model != "Bob's phone" {
			t.Fatalf("alice %+v bob %+v", alice, bob)
		}
	})
	t.Run("the owner can delete it", func(t *testing.T) {
		if err := f.devices.Delete(f.ctx, f.alice, "shared-id"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, f.devices.Delete(f.ctx, f.alice, "shared-id"), apperr.NotFound, "")
		if bob, _ := f.devices.List(f.ctx, f.bob); len(bob) != 1 {
			t.Fatalf("bob's device went too: %+v", bob)
		}
	})
}

func TestPushTokenOwnership(t *testing.T) {
	f := newDeviceFixture(t)
	in := phone()
	in.PushToken, in.PushEnabled = "fcm-token-1", true
	f.checkIn(t, f.alice, "phone-a", in)
	t.Run("belongs to the device that registered it", func(t *testing.T) {
		user, key, err := f.devices.TokenOwner(f.ctx, "fcm-token-1")
		if err != nil || user != "alice" || key != "alice/phone-a" {
			t.Fatalf("owner %q %q, %v", user, key, err)
		}
	})
	t.Run("moves to another user and leaves the previous device", func(t *testing.T) {
		f.checkIn(t, f.bob, "phone-b", in)
		user, key, err := f.devices.TokenOwner(f.ctx, "fcm-token-1")
		if err != nil || user != "bob" || key != "bob/phone-b" {
			t.Fatalf("owner %q %q, %v", user, key, err)
		}
		alice, _ := f.devices.List(f.ctx, f.alice)
		if len(alice) != 1 || alice[0].HasPushToken || alice[0].PushToken != "" {
			t.Fatalf("alice's device keeps the token: %+v", alice)
		}
		bob, _ := f.devices.List(f.ctx, f.bob)
		if len(bob) != 1 || !bob[0].HasPushToken {
			t.Fatalf("bob %+v", bob)
		}
	})
	t.Run("is released when the device reports a new one", func(t *testing.T) {
		next := in
		next.PushToken = "fcm-token-2"
		f.checkIn(t, f.bob, "phone-b", next)
		_, _, err := f.devices.TokenOwner(f.ctx, "fcm-token-1")
		wantCode(t, err, apperr.NotFound, "")
	})
	t.Run("is released when the device is deleted", func(t *testing.T) {
		if err := f.devices.Delete(f.ctx, f.bob, "phone-b"); err != nil {
			t.Fatal(err)
		}
		_, _, err := f.devices.TokenOwner(f.ctx, "fcm-token-2")
		wantCode(t, err, apperr.NotFound, "")
	})
	t.Run("is never echoed in JSON", func(t *testing.T) {
		d := f.checkIn(t, f.alice, "phone-a", in)
		b, _ := json.Marshal(d)
		if strings.Contains(string(b), "fcm-token-1") || !strings.Contains(string(b), `"has_push_token":true`) {
			t.Fatalf("JSON %s", b)
		}
		assertNoJSONKey(t, d, "push_token")
	})
}

func TestPushTokenRace(t *testing.T) {
	f := newDeviceFixture(t)
	t.Run("leaves a token on exactly its owner when 8 users register it at once", func(t *testing.T) {
		const n = 8
		for round := 0; round < 3; round++ {
			token := fmt.Sprintf("contested-%d", round)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for g := 0; g < n; g++ {
				wg.Add(1)
				go func(g int) {
					defer wg.Done()
					<-start
					in := phone()
					in.PushToken = token
					p := &auth.Principal{UserID: fmt.Sprintf("user-%d", g)}
					if _, err := f.devices.CheckIn(f.ctx, p, "phone", in); err != nil {
						t.Error(err)
					}
				}(g)
			}
			close(start)
			wg.Wait()
			owner, key, err := f.devices.TokenOwner(f.ctx, token)
			if err != nil || key != owner+"/phone" {
				t.Fatalf("round %d: owner %q %q, %v", round, owner, key, err)
			}
			holders := 0
			for g := 0; g < n; g++ {
				list, _ := f.devices.List(f.ctx, &auth.Principal{UserID: fmt.Sprintf("user-%d", g)})
				if len(list) == 1 && list[0].PushToken == token {
					holders++
					if list[0].Key != key {
						t.Fatalf("round %d: %s holds the token owned by %s", round, list[0].Key, key)
					}
				}
			}
			if holders != 1 {
				t.Fatalf("round %d: %d devices hold the token, want 1", round, holders)
			}
		}
	})
}

// One user registers at most MaxDevicesPerUser devices: nothing stopped a loop of check-ins
// with new ids from growing the registry, the push tokens and every fan-out without bound.
// Counted from the database, and from the recipient view where there is one.
func TestDevicesPerUserAreBounded(t *testing.T) {
	for _, src := range sources {
		t.Run(src.name, func(t *testing.T) {
			f := src.new(t)
			alice := &auth.Principal{UserID: "alice", Roles: roles(auth.RoleEmployee)}
			for i := range MaxDevicesPerUser {
				if _, err := f.devices.CheckIn(f.ctx, alice, fmt.Sprint("dev-", i), phone()); err != nil {
					t.Fatal(err)
				}
			}
			_, err := f.devices.CheckIn(f.ctx, alice, "one-more", phone())
			wantCode(t, err, apperr.Conflict, "")
			if _, err := f.devices.CheckIn(f.ctx, alice, "dev-0", phone()); err != nil {
				t.Fatalf("a registered device's check-in: %v", err)
			}
			if _, err := f.devices.CheckIn(f.ctx, &auth.Principal{UserID: "bob"}, "dev-0", phone()); err != nil {
				t.Fatalf("another user's device: %v", err)
			}
			if err := f.devices.Delete(f.ctx, alice, "dev-1"); err != nil {
				t.Fatal(err)
			}
			if _, err := f.devices.CheckIn(f.ctx, alice, "one-more", phone()); err != nil {
				t.Fatalf("a new device after one was removed: %v", err)
			}
			// Phones unseen for the push engine's stale age do not count: before, a user who
			// changed phones 20 times could never register another.
			f.clock.Advance(push.StaleAfter + time.Hour)
			if _, err := f.devices.CheckIn(f.ctx, alice, "years-later", phone()); err != nil {
				t.Fatalf("a new device when the others are long unseen: %v", err)
			}
		})
	}
}
