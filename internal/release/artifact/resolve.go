package artifact

import (
	"cmp"
	"slices"
)

// Resolution limits. A reference may point at another reference (an alias); a hostile table
// could chain them forever or fan them out, so both depth and total lookups are capped far
// above what real apps use (one or two hops, a handful of lookups).
const (
	maxHops           = 8
	maxLookups        = 16
	maxIconCandidates = 32
)

// resolver follows resource references through a table, within a lookup budget.
type resolver struct {
	table  *resTable // nil when the APK has no resources.arsc
	budget int
}

func newResolver(t *resTable) *resolver { return &resolver{table: t, budget: maxLookups} }

// resolve follows references from v to a plain value. For each reference it takes the value
// for the default locale, else the first one, so the result does not depend on the order of
// configurations. It returns a zero value when v cannot be resolved.
func (r *resolver) resolve(v value) value {
	for range maxHops {
		if !v.isRef() {
			return v
		}
		next, ok := r.best(v.data)
		if !ok {
			return value{}
		}
		v = next
	}
	return value{}
}

func (r *resolver) best(id uint32) (value, bool) {
	if r.table == nil || r.budget <= 0 {
		return value{}, false
	}
	r.budget--
	var first, def value
	r.table.lookup(id, func(c config, v value) {
		if !first.present {
			first = v
		}
		if !def.present && c.language == 0 && c.country == 0 {
			def = v
		}
	})
	if def.present {
		return def, true
	}
	return first, first.present
}

// str resolves v to a string.
func (r *resolver) str(v value) (string, bool) {
	v = r.resolve(v)
	return v.str, v.hasStr
}

// iconFile is a candidate icon: a path in the APK and the screen density it is meant for.
type iconFile struct {
	path    string
	density uint16
}

// iconFiles returns the files the icon reference v can resolve to, best first: highest
// density first, then the density-independent ones.
func (r *resolver) iconFiles(v value) []iconFile {
	var out []iconFile
	r.collect(v, 0, 0, &out)
	slices.SortStableFunc(out, func(a, b iconFile) int { return cmp.Compare(densityRank(b.density), densityRank(a.density)) })
	return out
}

func (r *resolver) collect(v value, density uint16, hops int, out *[]iconFile) {
	if len(*out) >= maxIconCandidates {
		return
	}
	if !v.isRef() {
		if v.hasStr {
			*out = append(*out, iconFile{path: v.str, density: density})
		}
		return
	}
	if r.table == nil || r.budget <= 0 || hops >= maxHops {
		return
	}
	r.budget--
	type found struct {
		c config
		v value
	}
	var vals []found
	r.table.lookup(v.data, func(c config, v value) {
		if len(vals) < maxIconCandidates {
			vals = append(vals, found{c, v})
		}
	})
	for _, f := range vals {
		r.collect(f.v, f.c.density, hops+1, out)
	}
}

// densityRank orders densities for picking the largest icon. 0 is the default, which Android
// treats as mdpi (160); "anydpi" and "nodpi" hold vector or adaptive icons, last resorts.
func densityRank(d uint16) int {
	switch d {
	case 0:
		return 160
	case 0xfffe: // anydpi
		return -2
	case 0xffff: // nodpi
		return -1
	}
	return int(d)
}
