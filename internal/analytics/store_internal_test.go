package analytics

import (
	"errors"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

// An insert that fails for another reason than a duplicate takes back what it stored, so that
// the client's retry stores and counts the events: left in place they were duplicates that no
// rollup counted. (A key the database refuses stands for any such failure.)
func TestAFailedInsertTakesBackItsEvents(t *testing.T) {
	at := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	c := testenv.NewClock(at)
	s := &Service{DB: testenv.Mongo(t), Key: testKey, Now: c.Now}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ev := func(id string, props map[string]string) stored {
		return stored{ID: "p:" + id, P: "p", D: "d", Name: "screen_view", Screen: "home", At: at, App: "portal",
			Build: "1", Platform: "ios", Props: props, Received: at}
	}
	counted := ev("counted", nil)
	if n, err := s.store(t.Context(), []stored{counted}); err != nil || n != 1 {
		t.Fatalf("store = %d, %v", n, err)
	}
	if _, err := s.store(t.Context(), []stored{counted, ev("good", nil), ev("bad", map[string]string{"a.b": "x"})}); err == nil {
		t.Fatal("a refused event did not fail the insert")
	}
	for id, want := range map[string]int64{"p:counted": 1, "p:good": 0} {
		n, err := s.events().CountDocuments(t.Context(), bson.D{{Key: "_id", Value: id}})
		if err != nil || n != want {
			t.Errorf("%s: %d stored (%v), want %d", id, n, err, want)
		}
	}
	if n, err := s.store(t.Context(), []stored{counted, ev("good", nil)}); err != nil || n != 1 {
		t.Fatalf("the retry stored %d (%v), want the good event", n, err)
	}
}

// A day keeps at most maxDimValues values of a dimension a client names; the rest count as
// OtherValue. Before, one client inventing a screen name per event grew every instance's memory
// for good, until the day's merged rollup no longer fitted a document.
func TestADayKeepsABoundedNumberOfScreens(t *testing.T) {
	at := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	c := testenv.NewClock(at)
	s := &Service{DB: testenv.Mongo(t), Key: testKey, Now: c.Now}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	const extra = 7
	var evs []stored
	for i := range maxDimValues + extra {
		evs = append(evs, stored{ID: "p:" + strconv.Itoa(i), P: "p", D: "d", Name: "screen_view", Screen: "s" + strconv.Itoa(i),
			At: at, App: "portal", Build: "1", Platform: "ios", Received: at})
	}
	for start := 0; start < len(evs); start += 300 {
		if _, err := s.store(t.Context(), evs[start:min(start+300, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
	ops := &auth.Principal{UserID: "o", Roles: []auth.Role{auth.RoleOps}}
	screens, err := s.Screens(ops, Range{From: "2030-01-01", To: "2030-01-01"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var other int64
	for _, sc := range screens {
		if sc.Screen == OtherValue {
			other = sc.Views
		}
	}
	if len(screens) != maxDimValues+1 || other != extra {
		t.Fatalf("%d screens, %d views of %q; want %d and %d", len(screens), other, OtherValue, maxDimValues+1, extra)
	}
}

// A fragment insert that the database applied but whose answer was lost (a timeout, a
// connection reset) fails the batch, and the app sends the same batch again. The retry must not
// insert a second fragment of the same events: the numbers would count them twice.
func TestARetryAfterAnAmbiguousFragmentInsertCountsOnce(t *testing.T) {
	at := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	c := testenv.NewClock(at)
	s := &Service{DB: testenv.Mongo(t), Key: testKey, Now: c.Now}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	lost := true
	s.fragmentInserted = func(err error) error {
		if err == nil && lost {
			lost = false
			return errors.New("connection reset by peer")
		}
		return err
	}
	p := &auth.Principal{UserID: "u1", DeviceID: "d1", Roles: []auth.Role{auth.RoleEmployee}}
	b := Batch{App: "portal", Build: "1", Platform: "ios", ClientTime: at.UnixMilli(), Events: []Event{
		{ID: "e1", Name: "screen_view", Screen: "home", At: at.UnixMilli()},
		{ID: "e2", Name: "screen_view", Screen: "home", At: at.UnixMilli()},
	}}
	if _, err := s.Ingest(t.Context(), p, b); err == nil {
		t.Fatal("the lost answer did not fail the batch")
	}
	c.Advance(time.Minute)
	b.ClientTime = c.Now().UnixMilli()
	res, err := s.Ingest(t.Context(), p, b)
	if err != nil || res.Accepted != 2 {
		t.Fatalf("the retry: %+v, %v", res, err)
	}
	if n := fragmentCount(t, s); n != 1 {
		t.Errorf("%d fragments of one batch, want 1", n)
	}
	ops := &auth.Principal{UserID: "o", Roles: []auth.Role{auth.RoleOps}}
	for name, s := range map[string]*Service{"this instance": s, "a new instance": {DB: s.DB, Key: testKey, Now: c.Now}} {
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		screens, err := s.Screens(ops, Range{From: "2030-01-01", To: "2030-01-01"}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(screens) != 1 || screens[0].Views != 2 {
			t.Errorf("%s: %+v, want 2 views of home", name, screens)
		}
	}
}

// An insert that was applied but answered with another error than a write exception (the
// connection lost on the way back, a write concern timing out) takes back what it stored, and
// only that: the retry stores and counts the events. Before, they stayed stored uncounted, and
// the retry found them all duplicates.
func TestAnAmbiguousInsertTakesBackItsEvents(t *testing.T) {
	at := time.Date(2030, 1, 1, 9, 0, 0, 0, time.UTC)
	c := testenv.NewClock(at)
	s := &Service{DB: testenv.Mongo(t), Key: testKey, Now: c.Now}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	ev := func(id string) stored {
		return stored{ID: "p:" + id, P: "p", D: "d", Name: "screen_view", Screen: "home", At: at, App: "portal",
			Build: "1", Platform: "ios", Received: c.Now().UTC()}
	}
	earlier := ev("earlier")
	if n, err := s.store(t.Context(), []stored{earlier}); err != nil || n != 1 {
		t.Fatalf("store = %d, %v", n, err)
	}
	c.Advance(time.Second)
	s.eventsInserted = func(error) error {
		return errors.New("connection reset by peer") // applied (but for the duplicate), the answer lost
	}
	batch := []stored{ev("earlier"), ev("new1"), ev("new2")}
	if _, err := s.store(t.Context(), batch); err == nil {
		t.Fatal("the lost answer was not an error")
	}
	s.eventsInserted = nil
	for id, want := range map[string]int64{"p:earlier": 1, "p:new1": 0, "p:new2": 0} {
		n, err := s.events().CountDocuments(t.Context(), bson.D{{Key: "_id", Value: id}})
		if err != nil || n != want {
			t.Errorf("%s: %d stored (%v), want %d", id, n, err, want)
		}
	}
	if n, err := s.store(t.Context(), batch); err != nil || n != 2 {
		t.Fatalf("the retry counted %d (%v), want the 2 new events", n, err)
	}
}
