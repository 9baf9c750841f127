package feedback

import (
	"encoding/json"
	"slices"

	datasync "github.com/mportal/mportal/sync"
)

// tally is one table's share of a push: how many records it applied, the audience keys they
// touched (each once) and the records it refused.
type tally struct {
	applied datasync.Applied
	keys    []string
}

// touched counts an applied record and the keys it touched.
func (t *tally) touched(keys []string) {
	for _, k := range keys {
		if !slices.Contains(t.keys, k) {
			t.keys = append(t.keys, k)
		}
	}
	t.applied.Count++
}

// rejected records the rejection of a record, or returns err when it is not the record's fault.
func (t *tally) rejected(id string, raw json.RawMessage, err error) error {
	r, err := reject(id, raw, err)
	if err != nil {
		return err
	}
	t.applied.Rejected = append(t.applied.Rejected, r)
	return nil
}

// result returns the tally with its keys touching tables (none when nothing was applied).
func (t *tally) result(tables ...string) datasync.Applied {
	if len(t.keys) > 0 {
		for _, table := range tables {
			t.applied.Touches = append(t.applied.Touches, datasync.Touch{Table: table, Keys: t.keys})
		}
	}
	return t.applied
}
