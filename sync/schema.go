package datasync

// Versioned is implemented by a table that the apps' local schema gained after its first
// version. A pull that names the app's schema version sends only the tables that schema has, so
// that an app which does not have a table yet is never sent its records (WatermelonDB warns
// about a collection it does not know and skips it).
type Versioned interface {
	// SchemaVersion is the app schema version that introduced the table (1 or more).
	SchemaVersion() int
}

// schemaVersion returns the app schema version that introduced t: 1 unless t says otherwise.
func schemaVersion(t Table) int {
	if v, ok := t.(Versioned); ok {
		return v.SchemaVersion()
	}
	return 1
}

// SchemaVersions returns, for every registered table, the app schema version that introduced it.
func (e *Engine) SchemaVersions() map[string]int {
	out := map[string]int{}
	for _, t := range e.registered() {
		out[t.Name()] = schemaVersion(t)
	}
	return out
}

// ForSchema limits the prepared pull to the tables of app schema version v: those introduced at
// v or before. v == 0 (the app did not say) keeps every table, as apps that send no version
// expect. A migration's tables come whole as before, when the app's schema has them. It must be
// called before WriteTo.
func (s *PullStream) ForSchema(v int) {
	if v <= 0 {
		return
	}
	keep := 0
	for i, t := range s.tables {
		if schemaVersion(t) > v {
			continue
		}
		s.tables[keep], s.read[keep], s.whole[keep] = t, s.read[i], s.whole[i]
		s.changed[keep], s.exact[keep] = s.changed[i], s.exact[i]
		keep++
	}
	s.tables, s.read, s.whole = s.tables[:keep], s.read[:keep], s.whole[:keep]
	s.changed, s.exact = s.changed[:keep], s.exact[:keep]
}
