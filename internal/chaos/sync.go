package chaos

import (
	"fmt"
	"strings"
)

// SyncWrite is one record change a device pushed and got a 2xx for (the push was accepted, not
// rejected). Seq orders the acknowledged writes of one record: the last one is the state every
// device must end with.
type SyncWrite struct {
	Table, ID string
	Value     string // the record's content after the write; ignored for a delete
	Deleted   bool
	// AnyValue checks that the record is present, whatever its content: for a record the
	// server settles in a way the client cannot tell (an attachment whose upload was refused
	// ends failed, or stays pending).
	AnyValue bool
	Seq      int64
}

// Pull is what one pull gave a device: for each table, the records sent as updated (id -> value)
// and the ids sent as deleted.
type Pull struct {
	Updated map[string]map[string]string
	Deleted map[string][]string
	// Repeated are the ids a table's updated list named more than once (Updated keeps one).
	Repeated map[string][]string
}

// DeviceLog is one simulated device: who may see which records, and every pull it applied.
type DeviceLog struct {
	Device string
	// MaySee reports whether the device may see the record; the rig's devices see their user's
	// records.
	MaySee func(table, id string) bool
	Pulls  []Pull
}

// CheckSync checks that every acknowledged write is present on every device that may see it,
// with the last acknowledged value, after the devices' final pulls; and that no pull sent one
// record twice. A device's state is its pulls applied in order, as WatermelonDB applies them.
func CheckSync(writes []SyncWrite, devices []DeviceLog) Guarantee {
	last := map[string]SyncWrite{}
	for _, w := range writes {
		k := w.Table + "/" + w.ID
		if cur, ok := last[k]; !ok || w.Seq > cur.Seq {
			last[k] = w
		}
	}
	var v violations
	checked := 0
	for _, d := range devices {
		state := map[string]string{}
		for i, p := range d.Pulls {
			for table, ids := range p.Repeated {
				for _, id := range ids {
					v.addf("%s: pull %d sent %s/%s as updated twice", d.Device, i, table, id)
				}
			}
			for table, recs := range p.Updated {
				for id, val := range recs {
					state[table+"/"+id] = val
				}
			}
			for table, ids := range p.Deleted {
				seen := map[string]bool{}
				for _, id := range ids {
					if seen[id] {
						v.addf("%s: pull %d deleted %s/%s twice", d.Device, i, table, id)
					}
					seen[id] = true
					if _, both := p.Updated[table][id]; both {
						v.addf("%s: pull %d sent %s/%s as updated and deleted", d.Device, i, table, id)
					}
					delete(state, table+"/"+id)
				}
			}
		}
		for _, k := range sortedKeys(last) {
			w := last[k]
			if d.MaySee != nil && !d.MaySee(w.Table, w.ID) {
				continue
			}
			checked++
			got, present := state[k]
			switch {
			case w.Deleted && present:
				v.addf("%s still has %s, deleted with a 2xx", d.Device, k)
			case !w.Deleted && !present:
				v.addf("%s never pulled %s, written with a 2xx", d.Device, k)
			case !w.Deleted && !w.AnyValue && got != w.Value:
				v.addf("%s has %s = %q, last 2xx write was %q", d.Device, k, got, w.Value)
			}
		}
	}
	return Guarantee{
		Name:   "every 2xx sync write is present on every device that may see it",
		Pass:   v.n == 0,
		Detail: v.detail(fmt.Sprintf("%d records x devices checked, %d writes acknowledged in %s", checked, len(writes), tablesOf(writes))),
	}
}

// tablesOf names the tables writes touched, with their counts: "feedback 1580, feedback_attachments 120".
func tablesOf(writes []SyncWrite) string {
	n := map[string]int{}
	for _, w := range writes {
		n[w.Table]++
	}
	parts := make([]string, 0, len(n))
	for _, t := range sortedKeys(n) {
		parts = append(parts, fmt.Sprintf("%s %d", t, n[t]))
	}
	return strings.Join(parts, ", ")
}
