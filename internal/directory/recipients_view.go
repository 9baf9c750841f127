package directory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// RecipientView is an in-memory copy of what push fan-out reads from the directory: each user's
// status, department and roles, and each device's push fields. On the embedded FerretDB every
// query reads the whole collection at ~50 µs a document, so streaming 50,000 devices from the
// database costs seconds per notification; from the view it costs milliseconds.
//
// The view loads on first use. Users and Devices that share it (their View field) update it on
// every write they make, under the same locks as the write, so this process sees its own writes
// at once. Writes by other processes are only seen after a reload: set MaxAge, or call Refresh
// from a worker. cmd uses the view on the embedded database only, which one server process
// serves (it reloads the view every few minutes for users that `mportal user import` adds); on
// MongoDB, with several replicas writing, Recipients streams from the database. A nil
// *RecipientView ignores updates.
//
// Memory (measured): about 520 bytes per user with one device, plus the push token's length
// (about 160 bytes for FCM), so 50,000 users with a phone each take about 34 MB.
type RecipientView struct {
	DB *mongodb.DB
	// MaxAge makes a Stream reload a view older than it first; zero means never (one writer).
	MaxAge time.Duration

	reload   sync.Mutex // serializes loads
	mu       sync.RWMutex
	loaded   bool
	loading  bool
	loadedAt time.Time
	users    map[string]*viewUser
	devices  map[string]*viewDevice
	byUser   map[string][]string // user id -> device keys
	tokens   map[string]string   // push token -> device key
	order    []string            // device keys, sorted; nil when stale
	journal  []func()            // updates made during a load, replayed on its result
	strs     map[string]string   // interned repeated values (departments, locales, ...)
	loads    int                 // completed loads, for tests
}

// viewUser is the part of a user the fan-out needs, and the name (which sync pushes of
// feedback stamp on new records, see Users.Name).
type viewUser struct {
	Name       string
	EmployeeNo string
	Status     string
	Department string
	Roles      []string
}

// viewDevice is the part of a device the fan-out needs; it mirrors recipientDevice.
type viewDevice = recipientDevice

// Refresh reloads the whole view from the database. Updates made while it reads are kept.
// It returns unavailable when the database cannot be read; the previous view then stays.
func (v *RecipientView) Refresh(ctx context.Context) error {
	v.reload.Lock()
	defer v.reload.Unlock()
	return v.refreshLocked(ctx)
}

// refreshLocked is Refresh; the caller holds v.reload.
func (v *RecipientView) refreshLocked(ctx context.Context) error {
	v.mu.Lock()
	v.loading, v.journal = true, nil
	v.mu.Unlock()
	users, devices, err := v.read(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	journal := v.journal
	v.loading, v.journal = false, nil
	if err != nil {
		return err
	}
	v.users, v.devices = users, devices
	v.byUser = make(map[string][]string, len(users))
	v.tokens = make(map[string]string, len(devices))
	for key, d := range devices {
		v.byUser[d.UserID] = append(v.byUser[d.UserID], key)
		if d.PushToken != "" {
			v.tokens[d.PushToken] = key
		}
	}
	v.order, v.loaded, v.loadedAt = nil, true, time.Now()
	v.loads++
	for _, apply := range journal {
		apply()
	}
	return nil
}

// read loads users and devices with projections, interning the repeated strings.
func (v *RecipientView) read(ctx context.Context) (map[string]*viewUser, map[string]*viewDevice, error) {
	v.mu.Lock()
	v.strs = make(map[string]string)
	v.mu.Unlock()
	users := make(map[string]*viewUser)
	err := v.each(ctx, usersCollection, bson.D{{Key: "name", Value: 1}, {Key: "employee_no", Value: 1}, {Key: "status", Value: 1}, {Key: "department", Value: 1}, {Key: "roles", Value: 1}},
		func(raw bson.Raw) error {
			var u struct {
				ID         string   `bson:"_id"`
				Name       string   `bson:"name"`
				EmployeeNo string   `bson:"employee_no"`
				Status     string   `bson:"status"`
				Department string   `bson:"department"`
				Roles      []string `bson:"roles"`
			}
			if err := bson.Unmarshal(raw, &u); err != nil {
				return err
			}
			users[u.ID] = v.user(u.Name, u.EmployeeNo, u.Status, u.Department, u.Roles)
			return nil
		})
	if err != nil {
		return nil, nil, err
	}
	devices := make(map[string]*viewDevice)
	err = v.each(ctx, devicesCollection, recipientProjection, func(raw bson.Raw) error {
		d := new(viewDevice)
		if err := bson.Unmarshal(raw, d); err != nil {
			return err
		}
		devices[d.Key] = v.device(d)
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return users, devices, nil
}

func (v *RecipientView) each(ctx context.Context, coll string, projection bson.D, fn func(bson.Raw) error) error {
	cur, err := v.DB.Collection(coll).Find(ctx, bson.D{}, options.Find().SetProjection(projection).SetBatchSize(2000))
	if err != nil {
		return fmt.Errorf("load recipient view: %w", mongodb.Translate(err, coll))
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return fmt.Errorf("load recipient view: decode %s: %w", coll, err)
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("load recipient view: %w", mongodb.Translate(err, coll))
	}
	return nil
}

// ensure loads the view on first use, and again when it is older than MaxAge. Callers that
// waited for another's load use it: each of them loaded the whole directory again, one after
// another, when a fan-out's first sends met the start-up load (tens of seconds each at 50,000
// users).
func (v *RecipientView) ensure(ctx context.Context) error {
	if v.fresh() {
		return nil
	}
	v.reload.Lock()
	defer v.reload.Unlock()
	if v.fresh() {
		return nil
	}
	return v.refreshLocked(ctx)
}

// deviceRoom reports whether device key is registered and how many devices userID has,
// loading the view first if need be.
func (v *RecipientView) deviceRoom(ctx context.Context, userID, key string, seenSince time.Time) (registered bool, n int, err error) {
	if err := v.ensure(ctx); err != nil {
		return false, 0, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	for _, k := range v.byUser[userID] {
		if d := v.devices[k]; d != nil && !d.LastSeenAt.Before(seenSince) {
			n++
		}
	}
	return v.devices[key] != nil, n, nil
}

func (v *RecipientView) fresh() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.loaded && (v.MaxAge <= 0 || time.Since(v.loadedAt) < v.MaxAge)
}

// intern returns s, shared with earlier equal strings. The caller holds mu.
func (v *RecipientView) intern(s string) string {
	if v.strs == nil {
		v.strs = make(map[string]string)
	}
	if t, ok := v.strs[s]; ok {
		return t
	}
	v.strs[s] = s
	return s
}

func (v *RecipientView) user(name, employeeNo, status, department string, roles []string) *viewUser {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.userLocked(name, employeeNo, status, department, roles)
}

func (v *RecipientView) userLocked(name, employeeNo, status, department string, roles []string) *viewUser {
	u := &viewUser{Name: name, EmployeeNo: employeeNo, Status: v.intern(status), Department: v.intern(department), Roles: make([]string, len(roles))}
	for i, r := range roles {
		u.Roles[i] = v.intern(r)
	}
	return u
}

func (v *RecipientView) device(d *viewDevice) *viewDevice {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.deviceLocked(d)
}

func (v *RecipientView) deviceLocked(d *viewDevice) *viewDevice {
	d.Platform, d.Channel = v.intern(d.Platform), v.intern(d.Channel)
	d.Locale, d.Timezone = v.intern(d.Locale), v.intern(d.Timezone)
	return d
}
