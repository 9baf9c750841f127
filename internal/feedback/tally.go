package feedback

import (
	"encoding/json"
	"slices"

	datasync "github.com/mportal/mportal/sync"
)

// tally is one table's share of a push: how many records it applied, the audience keys they
// touched (each once), the records under each key, and the records it refused.
type tally struct {
	applied datasync.Applied
	keys    []string
	records []datasync.TouchedRecord
}

// touched counts the applied record id and the keys it touched.
func (t *tally) touched(id string, keys []string) {
	for _, k := range keys {
		if !slices.Contains(t.keys, k) {
			t.keys = append(t.keys, k)
		}
		t.records = append(t.records, datasync.TouchedRecord{Key: k, ID: id})
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

// result returns the tally with its keys touching table, naming its records (so that pulls
// may read them by id, see datasync.Query.Exact); no touch when nothing was applied.
func (t *tally) result(table string) datasync.Applied {
	if len(t.keys) > 0 {
		t.applied.Touches = append(t.applied.Touches, datasync.Touch{Table: table, Keys: t.keys, Records: t.records})
	}
	return t.applied
}

// named is a touch of table under keys that names ids under each of them: every record of ids
// has all of keys (so that pulls may read them by id, see datasync.Query.Exact).
func named(table string, keys []string, ids ...string) datasync.Touch {
	t := datasync.Touch{Table: table, Keys: keys}
	for _, id := range ids {
		for _, k := range keys {
			t.Records = append(t.Records, datasync.TouchedRecord{Key: k, ID: id})
		}
	}
	return t
}

// childPush is how a child table of feedback (attachments, comments) applies a push: one record
// at a time, in order, each record's own fault rejecting that record only.
type childPush[R any] struct {
	id     func(*R) string                   // the record's id, for its rejection
	check  func(*R) error                    // validation of a decoded record
	write  func(*R) ([]string, error)        // creates or updates it; the keys it touched
	remove func(id string) ([]string, error) // deletes it; the keys it touched
}

// apply writes ch's created and updated records, then removes its deleted ids. It returns the
// tally, or the first error that is not a record's fault.
func (c childPush[R]) apply(ch datasync.Changes) (tally, error) {
	var tl tally
	for _, raw := range append(append([]json.RawMessage{}, ch.Created...), ch.Updated...) {
		var r R
		err := decodeRecord(raw, &r)
		if err == nil {
			err = c.check(&r)
		}
		var k []string
		if err == nil {
			k, err = c.write(&r)
		}
		if err != nil {
			if err := tl.rejected(c.id(&r), raw, err); err != nil {
				return tally{}, err
			}
			continue
		}
		tl.touched(c.id(&r), k)
	}
	for _, id := range ch.Deleted {
		k, err := c.remove(id)
		if err != nil {
			if err := tl.rejected(id, mustJSON(id), err); err != nil {
				return tally{}, err
			}
			continue
		}
		tl.touched(id, k)
	}
	return tl, nil
}
