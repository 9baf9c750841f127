package datasync

import (
	"bytes"
	"encoding/json"
	"slices"

	"github.com/mportal/mportal/internal/apperr"
)

// Migration is WatermelonDB's migration sync: the app upgraded its local schema since its last
// pull (from schema version From) and created Tables and added Columns, which are empty on the
// device. A pull with a migration sends those tables whole, as a first sync would, so that a
// table the server added later (approvals, training progress) reaches devices that synced long
// before it existed, without a reset.
type Migration struct {
	From    int               `json:"from"`
	Tables  []string          `json:"tables"`
	Columns []MigrationColumn `json:"columns"`
}

// MigrationColumn names the columns the app added to one table.
type MigrationColumn struct {
	Table   string   `json:"table"`
	Columns []string `json:"columns"`
}

// ParseMigration decodes the migration query parameter: empty or "null" is no migration. It
// returns invalid (field migration) for anything else that is not a migration object.
func ParseMigration(s string) (*Migration, error) {
	if s == "" || s == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(s)))
	dec.DisallowUnknownFields()
	var m Migration
	if err := dec.Decode(&m); err != nil || dec.More() {
		return nil, apperr.Field("migration", "migration must be null or {\"from\": N, \"tables\": [...], \"columns\": [{\"table\", \"columns\"}]}")
	}
	for _, c := range m.Columns {
		if c.Table == "" {
			return nil, apperr.Field("migration", "every migration column entry needs its table")
		}
	}
	return &m, nil
}

// refetched lists the tables a migration makes the app need whole: created ones and ones with
// new columns. Names of tables the server does not sync (local-only tables) are ignored.
func (m *Migration) refetched() []string {
	if m == nil {
		return nil
	}
	out := slices.Clone(m.Tables)
	for _, c := range m.Columns {
		out = append(out, c.Table)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Migrate makes the prepared pull send the tables the migration needs whole (all live records the
// user may see, in "updated" like any live record: the app merges the new columns into the records
// it has). It must be called before WriteTo.
func (s *PullStream) Migrate(m *Migration) {
	for _, name := range m.refetched() {
		for i, t := range s.tables {
			if t.Name() == name {
				s.whole[i], s.read[i] = true, true
			}
		}
	}
}
