package directory

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
)

// SeedSimulated writes n active users of department, each with one pushable Android device whose
// push token is "<prefix>-<i>", straight into the users, devices and push_tokens collections in
// batches, and returns the tokens. It is for load rigs (cmd/chaos) that need tens of thousands
// of push recipients: registering them through the API (a login, argon2 and a check-in each)
// does not fit a bounded run. The users have no password and cannot log in. Run it before the
// instances start, since they load their RecipientView at start. It returns conflict when one of
// the ids exists (seed an empty database) and unavailable when the database cannot be reached.
func SeedSimulated(ctx context.Context, db *mongodb.DB, prefix, department string, n int, now time.Time) ([]string, error) {
	now = now.UTC().Truncate(time.Millisecond)
	tokens := make([]string, 0, n)
	const chunk = 2000
	for start := 0; start < n; start += chunk {
		var users, devices, keys []any
		for i := start; i < min(n, start+chunk); i++ {
			uid := fmt.Sprintf("%s-u%06d", prefix, i)
			tok := fmt.Sprintf("%s-%d", prefix, i)
			key := deviceKey(uid, "phone")
			users = append(users, User{ID: uid, EmployeeNo: fmt.Sprintf("%s%06d", prefix, i), Name: uid,
				Department: department, Roles: []auth.Role{auth.RoleEmployee}, Locale: "en", Timezone: "Asia/Shanghai",
				Status: StatusActive, CreatedAt: now, UpdatedAt: now})
			devices = append(devices, Device{Key: key, UserID: uid, DeviceID: "phone", Platform: "android",
				Channel: "stable", Locale: "en", Timezone: "Asia/Shanghai", PushToken: tok, PushEnabled: true,
				CreatedAt: now, LastSeenAt: now})
			keys = append(keys, pushToken{Token: tok, UserID: uid, DeviceKey: key, UpdatedAt: now})
			tokens = append(tokens, tok)
		}
		for _, b := range []struct {
			coll string
			docs []any
		}{{usersCollection, users}, {devicesCollection, devices}, {pushTokensCollection, keys}} {
			if _, err := db.Collection(b.coll).InsertMany(ctx, b.docs, options.InsertMany().SetOrdered(false)); err != nil {
				return nil, fmt.Errorf("seed simulated %s: %w", b.coll, mongodb.Translate(err, "simulated user"))
			}
		}
	}
	return tokens, nil
}
