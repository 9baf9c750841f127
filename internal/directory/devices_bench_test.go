package directory

import (
	"context"
	"fmt"
	"testing"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// BenchmarkDevicesCheckIn is what an app's check-in costs on the embedded FerretDB: the device's
// lock, a read by _id and an upsert, plus the push-token moves when a token is reported. The
// embedded database scans for _id lookups (see BenchmarkFindOne in internal/mongodb), so
// new_device_each_time grows slower as the collection grows: its ns/op depends on b.N.
func BenchmarkDevicesCheckIn(b *testing.B) {
	devices := &Devices{DB: testenv.Mongo(b)}
	ctx := context.Background()
	if err := devices.EnsureIndexes(ctx); err != nil {
		b.Fatal(err)
	}
	alice := &auth.Principal{UserID: "alice", Roles: []auth.Role{auth.RoleEmployee}}
	in := DeviceInput{Platform: PlatformAndroid, Model: "Pixel 8", OSVersion: "15", AppID: "com.example.portal",
		AppVersion: "2.3.0", BuildNumber: 230}

	b.Run("existing_device", func(b *testing.B) {
		for b.Loop() {
			if _, err := devices.CheckIn(ctx, alice, "phone-1", in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("existing_device_with_push_token", func(b *testing.B) {
		withToken := in
		withToken.PushToken, withToken.PushEnabled = "token-phone-2", true
		for b.Loop() {
			if _, err := devices.CheckIn(ctx, alice, "phone-2", withToken); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("new_device_each_time", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			if _, err := devices.CheckIn(ctx, alice, fmt.Sprintf("new-%d", i), in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
