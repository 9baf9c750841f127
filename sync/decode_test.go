package datasync

import (
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
)

func knownTables(name string) bool { return name == "notes" || name == "inbox" }

func TestDecodePush(t *testing.T) {
	for _, c := range []struct {
		name, body, field string
	}{
		{"refuses a body that is not JSON", `{"changes":`, ""},
		{"refuses a body that is not an object", `[1]`, ""},
		{"refuses a body without changes", `{}`, "changes"},
		{"refuses changes that are not an object", `{"changes":[]}`, "changes"},
		{"refuses an unknown table", `{"changes":{"notes":{},"secrets":{}}}`, "changes.secrets"},
		{"refuses a table that is not an object", `{"changes":{"notes":[]}}`, "changes.notes"},
		{"refuses an unknown part", `{"changes":{"notes":{"moved":[]}}}`, "changes.notes.moved"},
		{"refuses created that is not an array", `{"changes":{"notes":{"created":{}}}}`, "changes.notes.created"},
		{"refuses a record that is not an object", `{"changes":{"notes":{"created":[{"id":"a"},"b"]}}}`, "changes.notes.created[1]"},
		{"refuses a record without an id", `{"changes":{"notes":{"updated":[{"text":"x"}]}}}`, "changes.notes.updated[0].id"},
		{"refuses a numeric id", `{"changes":{"notes":{"created":[{"id":7}]}}}`, "changes.notes.created[0].id"},
		{"refuses an empty id", `{"changes":{"notes":{"created":[{"id":""}]}}}`, "changes.notes.created[0].id"},
		{"refuses a deleted entry that is not a string", `{"changes":{"inbox":{"deleted":["a",{}]}}}`, "changes.inbox.deleted[1]"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := DecodePush([]byte(c.body), knownTables)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || e.Field != c.field {
				t.Fatalf("error %v, want invalid with field %q", err, c.field)
			}
		})
	}
	t.Run("splits a valid push into tables", func(t *testing.T) {
		got, err := DecodePush([]byte(`{"changes":{"notes":{"created":[{"id":"a","_status":"created"}],"updated":null,"deleted":["b"]},"inbox":{}}}`), knownTables)
		if err != nil {
			t.Fatal(err)
		}
		if n := got["notes"]; len(n.Created) != 1 || len(n.Updated) != 0 || len(n.Deleted) != 1 || n.Deleted[0] != "b" {
			t.Fatalf("notes %+v", n)
		}
		if _, ok := got["inbox"]; !ok || got["inbox"].Len() != 0 {
			t.Fatalf("inbox %+v", got["inbox"])
		}
	})
}

// FuzzDecodePush checks that no body makes the decoder panic, and that whatever it accepts
// holds only known tables and records with string ids.
func FuzzDecodePush(f *testing.F) {
	for _, seed := range []string{
		`{"changes":{"notes":{"created":[{"id":"a","text":"x"}],"updated":[],"deleted":["b"]}}}`,
		`{"changes":{"inbox":{"updated":[{"id":"n","read_at":1}]}}}`,
		`{"changes":{"notes":{"created":[{"id":7}]}}}`,
		`{"changes":null}`,
		`[]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := DecodePush(body, knownTables)
		if err != nil {
			if _, ok := apperr.As(err); !ok {
				t.Fatalf("error %v is not an apperr", err)
			}
			return
		}
		for name, ch := range got {
			if !knownTables(name) {
				t.Fatalf("accepted unknown table %q", name)
			}
			for _, id := range ch.Deleted {
				if id == "" {
					t.Fatal("accepted an empty deleted id")
				}
			}
		}
	})
}

func TestParseMigration(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string // refetched tables; nil with ok for no migration
		ok       bool
	}{
		{name: "treats an absent migration as none", in: "", ok: true},
		{name: "treats null as none", in: "null", ok: true},
		{name: "refetches created tables and tables with new columns once each", ok: true,
			in:   `{"from":2,"tables":["approvals"],"columns":[{"table":"feedback","columns":["rating"]},{"table":"approvals","columns":["x"]}]}`,
			want: []string{"approvals", "feedback"}},
		{name: "rejects a value that is not JSON", in: "tables=feedback"},
		{name: "rejects unknown fields", in: `{"from":2,"tabels":["feedback"]}`},
		{name: "rejects a column entry without its table", in: `{"from":2,"columns":[{"columns":["a"]}]}`},
		{name: "rejects trailing data", in: `{"from":2} {}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMigration(tc.in)
			if !tc.ok {
				if !apperr.Is(err, apperr.Invalid) {
					t.Fatalf("ParseMigration(%q) = %v, want invalid", tc.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := m.refetched(); !slices.Equal(got, tc.want) {
				t.Fatalf("refetched %v, want %v", got, tc.want)
			}
		})
	}
}
