package analytics

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/RoaringBitmap/roaring/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// A fragment is the rollup of one stored batch: per day and dimension, the bitmap of user
// numbers and of device numbers and the number of events. Fragments are only ever inserted
// (the embedded database's updates are not atomic), and a day's numbers are the union of its
// fragments' bitmaps and the sum of their counts: exact, because each event is in exactly one
// fragment (the one of the batch that inserted it).
type fragment struct {
	ID      bson.ObjectID `bson:"_id"`
	Created time.Time     `bson:"created"`
	// FirstDay is the earliest of Days, so that the compactor reads only fragments with a
	// closed day (absent on fragments written before compaction existed).
	FirstDay string    `bson:"first_day,omitempty"`
	Days     []fragDay `bson:"days"`
	// Compacted is set on a day's merged fragment (Compact): Days holds only that day, the
	// union of the day's part of each fragment in Parts. Readers skip that day in those parts.
	Compacted string          `bson:"compacted,omitempty"`
	Parts     []bson.ObjectID `bson:"parts,omitempty"`
}

type fragDay struct {
	Day  string    `bson:"day"`
	Dims []fragDim `bson:"dims"`
}

type fragDim struct {
	Key     string `bson:"k"` // "all", "dept:Sales", "role:ops", "app:portal", "build:portal/42", "platform:ios", "screen:home", "entry:home", "event:sign_in", "install:portal/42"
	Users   []byte `bson:"u"` // a serialized Roaring bitmap of user numbers
	Devices []byte `bson:"d,omitempty"`
	Events  int64  `bson:"n"`
}

// agg is one day's numbers in one dimension.
type agg struct {
	users   *roaring.Bitmap
	devices *roaring.Bitmap
	events  int64
}

func newAgg() *agg { return &agg{users: roaring.New(), devices: roaring.New()} }

// dimsOf lists the dimensions an event counts in; withDevice says which carry device numbers.
func dimsOf(e *stored) (keys []string, withDevice int) {
	keys = append(keys, "all")
	if e.App != "" {
		keys = append(keys, "app:"+e.App, "build:"+e.App+"/"+e.Build)
		if e.Name == "install" {
			keys = append(keys, "install:"+e.App+"/"+e.Build)
		}
	}
	keys = append(keys, "platform:"+e.Platform)
	if e.Dept != "" {
		keys = append(keys, "dept:"+e.Dept)
	}
	keys = append(keys, roleDims(e.Roles)...)
	withDevice = len(keys) // the dimensions the metrics API answers with devices
	keys = append(keys, "event:"+e.Name)
	if e.Screen != "" {
		switch e.Name {
		case "screen_view":
			keys = append(keys, "screen:"+e.Screen)
		case "app_start":
			keys = append(keys, "entry:"+e.Screen)
		}
	}
	return keys, withDevice
}

// fragmentOf numbers the events' users and devices and rolls them up.
func (s *Service) fragmentOf(ctx context.Context, evs []stored) (*fragment, error) {
	days := map[string]map[string]*agg{}
	for i := range evs {
		e := &evs[i]
		u, err := s.numbers.get(ctx, "u", e.P, e.Received)
		if err != nil {
			return nil, err
		}
		var d uint32
		hasDevice := e.D != ""
		if hasDevice {
			if d, err = s.numbers.get(ctx, "d", e.D, e.Received); err != nil {
				return nil, err
			}
		}
		day := dayOf(e.At)
		dims := days[day]
		if dims == nil {
			dims = map[string]*agg{}
			days[day] = dims
		}
		keys, withDevice := dimsOf(e)
		for j, k := range keys {
			k = s.rollups.capped(day, dims, k)
			a := dims[k]
			if a == nil {
				a = newAgg()
				dims[k] = a
			}
			a.users.Add(u)
			if hasDevice && j < withDevice {
				a.devices.Add(d)
			}
			a.events++
		}
	}
	f := &fragment{ID: fragmentID(evs), Created: s.Now.Stored()}
	for day, dims := range days {
		fd := fragDay{Day: day}
		for k, a := range dims {
			fd.Dims = append(fd.Dims, fragDim{Key: k, Users: mustBytes(a.users), Devices: mustBytes(a.devices), Events: a.events})
		}
		sort.Slice(fd.Dims, func(i, j int) bool { return fd.Dims[i].Key < fd.Dims[j].Key })
		f.Days = append(f.Days, fd)
	}
	sort.Slice(f.Days, func(i, j int) bool { return f.Days[i].Day < f.Days[j].Day })
	if len(f.Days) > 0 {
		f.FirstDay = f.Days[0].Day
	}
	return f, nil
}

// fragmentID is the _id of the fragment of these new events: a digest of their ids, the same
// on every attempt to store them. A random one made an insert that failed ambiguously (applied,
// its answer lost) and was retried count the events twice; this one makes the retry a duplicate
// (insertFragment). Otherwise two stores do not have the same new events: an event is new once,
// unless store took it back after a failed insert.
func fragmentID(evs []stored) bson.ObjectID {
	ids := make([]string, len(evs))
	for i := range evs {
		ids[i] = evs[i].ID
	}
	sort.Strings(ids)
	sum := sha256.Sum256([]byte(strings.Join(ids, "\x00")))
	var id bson.ObjectID
	copy(id[:], sum[:])
	return id
}

func mustBytes(b *roaring.Bitmap) []byte {
	if b.IsEmpty() {
		return nil
	}
	b.RunOptimize()
	out, err := b.ToBytes()
	if err != nil {
		panic(err) // writing to memory cannot fail
	}
	return out
}

// rollups is every day's numbers in memory: queries never read the database.
type rollups struct {
	mu   sync.RWMutex
	days map[string]map[string]*agg
	seen map[bson.ObjectID]bool // fragments already added (this instance's own, then a Reload)
	// covered lists, per fragment, the days a merged fragment holds for it: adding the
	// fragment skips them, so a crash between writing the merge and deleting its parts, or a
	// reader that sees both, counts nothing twice.
	covered map[bson.ObjectID]map[string]bool
}

func newRollups() *rollups {
	return &rollups{days: map[string]map[string]*agg{}, seen: map[bson.ObjectID]bool{}, covered: map[bson.ObjectID]map[string]bool{}}
}

func (r *rollups) add(f *fragment) error {
	ok, err := r.addBatch([]fragment{*f})
	if err == nil && !ok {
		err = fmt.Errorf("analytics rollup %s: a merged day whose parts were partly counted", f.ID.Hex())
	}
	return err
}

// addBatch adds fragments read together, merged days first so that the parts they hold are
// skipped. A merged day whose parts were all counted before changes nothing (the numbers are
// already its union); one whose parts were none counted (at start, or its parts were deleted
// before this instance saw them) is added whole. It returns false when a merged day's parts
// were partly counted: only loading everything again is exact then (loadAll).
func (r *rollups) addBatch(frags []fragment) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	sort.SliceStable(frags, func(i, j int) bool { return frags[i].Compacted != "" && frags[j].Compacted == "" })
	for i := range frags {
		f := &frags[i]
		if r.seen[f.ID] {
			continue
		}
		skip := r.covered[f.ID]
		if f.Compacted != "" {
			counted := 0
			for _, p := range f.Parts {
				if r.seen[p] {
					counted++
				}
			}
			if counted > 0 && counted < len(f.Parts) {
				return false, nil
			}
			for _, p := range f.Parts {
				if r.covered[p] == nil {
					r.covered[p] = map[string]bool{}
				}
				r.covered[p][f.Compacted] = true
			}
			if counted > 0 {
				r.seen[f.ID] = true
				continue
			}
		}
		r.seen[f.ID] = true
		for _, fd := range f.Days {
			if skip[fd.Day] {
				continue
			}
			if err := r.addDay(&fd); err != nil {
				return true, fmt.Errorf("analytics rollup %s: %w", f.ID.Hex(), err)
			}
		}
	}
	return true, nil
}

func (r *rollups) addDay(fd *fragDay) error {
	dims := r.days[fd.Day]
	if dims == nil {
		dims = map[string]*agg{}
		r.days[fd.Day] = dims
	}
	for _, d := range fd.Dims {
		a := dims[d.Key]
		if a == nil {
			a = newAgg()
			dims[d.Key] = a
		}
		if err := orBytes(a.users, d.Users); err != nil {
			return err
		}
		if err := orBytes(a.devices, d.Devices); err != nil {
			return err
		}
		a.events += d.Events
	}
	return nil
}

func orBytes(into *roaring.Bitmap, b []byte) error {
	if len(b) == 0 {
		return nil
	}
	var bm roaring.Bitmap
	if err := bm.UnmarshalBinary(b); err != nil {
		return err
	}
	into.Or(&bm)
	return nil
}

// get returns a day's numbers in a dimension, or nil. The caller holds r.mu for reading and
// must not change the result.
func (r *rollups) get(day, key string) *agg { return r.days[day][key] }

// maxDimValues bounds the values a day keeps of each dimension a client names (events, screens,
// entries, apps, builds, installs): the values past it count as OtherValue. Every value is two
// bitmaps kept in memory on every instance for good, and a client inventing a name or a screen
// per event (or ids in screen names) grew them without bound, until a day's merged rollup no
// longer fitted a document and compaction stopped.
const maxDimValues = 1000

// OtherValue is the value that stands for a day's values of a dimension past maxDimValues.
const OtherValue = "(other)"

// cappedPrefixes are the dimensions whose values clients name.
var cappedPrefixes = []string{"event:", "screen:", "entry:", "app:", "build:", "install:"}

// capped returns key, or its dimension's OtherValue when day already holds maxDimValues values
// of that dimension (counting those of the fragment being built, dims) and key is not one of
// them. Across instances the bound holds per instance: each counts what it has loaded.
func (r *rollups) capped(day string, dims map[string]*agg, key string) string {
	prefix := ""
	for _, p := range cappedPrefixes {
		if strings.HasPrefix(key, p) {
			prefix = p
			break
		}
	}
	if prefix == "" || dims[key] != nil {
		return key
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	known := r.days[day]
	if known[key] != nil {
		return key
	}
	n := 0
	for k := range known {
		if strings.HasPrefix(k, prefix) {
			n++
		}
	}
	for k := range dims {
		if strings.HasPrefix(k, prefix) && known[k] == nil {
			n++
		}
	}
	if n >= maxDimValues {
		return prefix + OtherValue
	}
	return key
}
