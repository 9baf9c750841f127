package audit_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"go.mongodb.org/mongo-driver/v2/bson"
	"sync"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/audit"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	admin = &auth.Principal{UserID: "a1", Roles: []auth.Role{auth.RoleEmployee, auth.RoleAdmin}}
	ops   = &auth.Principal{UserID: "o1", Roles: []auth.Role{auth.RoleEmployee, auth.RoleOps}}
)

func TestLog(t *testing.T) {
	at := time.Date(2030, 5, 1, 8, 0, 0, 0, time.UTC)
	l := &audit.Log{DB: testenv.Mongo(t), Now: func() time.Time { return at }}
	if err := l.EnsureIndexes(t.Context()); err != nil {
		t.Fatal(err)
	}

	t.Run("stores an entry inserted again once", func(t *testing.T) {
		e, err := l.NewEntry(ops, "console", "user.roles", "retried", nil, []string{"employee"})
		if err != nil {
			t.Fatal(err)
		}
		for range 2 { // the first insert was written; its answer was lost
			if err := l.Insert(t.Context(), e); err != nil {
				t.Fatal(err)
			}
		}
		n, err := l.DB.Collection("audit_log").CountDocuments(t.Context(), bson.D{{Key: "target", Value: "retried"}})
		if err != nil || n != 1 {
			t.Fatalf("%d entries (%v), want 1", n, err)
		}
		if _, err := l.DB.Collection("audit_log").DeleteMany(t.Context(), bson.D{{Key: "target", Value: "retried"}}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("keeps every one of many concurrent records", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				errs <- l.Record(t.Context(), ops, "console", "user.status", fmt.Sprintf("u%02d", i),
					map[string]string{"status": "active"}, map[string]string{"status": "disabled"})
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		entries, err := l.List(t.Context(), admin)
		if err != nil {
			t.Fatal(err)
		}
		targets := map[string]bool{}
		for _, e := range entries {
			if e.ActorID != "o1" || e.Before != `{"status":"active"}` || e.After != `{"status":"disabled"}` || !e.At.Equal(at) {
				t.Errorf("entry %+v", e)
			}
			targets[e.Target] = true
		}
		if len(entries) != 40 || len(targets) != 40 {
			t.Fatalf("%d entries for %d targets, want 40 each", len(entries), len(targets))
		}
	})

	t.Run("shows and exports the log to admins only", func(t *testing.T) {
		if _, err := l.List(t.Context(), ops); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("List by ops = %v, want forbidden", err)
		}
		if err := l.WriteCSV(t.Context(), ops, &bytes.Buffer{}); !apperr.Is(err, apperr.Forbidden) {
			t.Errorf("WriteCSV by ops = %v, want forbidden", err)
		}
	})

	t.Run("keeps a spreadsheet from running a recorded value as a formula", func(t *testing.T) {
		if err := l.Record(t.Context(), admin, "console", "user.rename", "=HYPERLINK(\"x\")", nil, nil); err != nil {
			t.Fatal(err)
		}
		if err := l.Record(t.Context(), admin, "console", "user.retitle", "\t=1+1", nil, nil); err != nil {
			t.Fatal(err) // a tab that some spreadsheets skip before looking for a formula
		}
		var buf bytes.Buffer
		if err := l.WriteCSV(t.Context(), admin, &buf); err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		found := 0
		for _, r := range rows {
			if (r[3] == "user.rename" && r[4] == `'=HYPERLINK("x")`) || (r[3] == "user.retitle" && r[4] == "'\t=1+1") {
				found++
			}
		}
		if found != 2 {
			t.Errorf("the formula was exported as is:\n%s", buf.String())
		}
	})

	t.Run("refuses a record without an actor or an action", func(t *testing.T) {
		if err := l.Record(t.Context(), nil, "console", "x", "", nil, nil); !apperr.Is(err, apperr.Unauthorized) {
			t.Errorf("no actor: %v", err)
		}
		if err := l.Record(t.Context(), admin, "console", "", "", nil, nil); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("no action: %v", err)
		}
	})
}
