package analytics

import (
	"context"
	"encoding/binary"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/mongodb"
)

// closedAfter is when a day is closed: no event can land on it any more (events are accepted
// up to MaxLate old), with two days of margin for clocks and queued server events.
const closedAfter = MaxLate + 2*24*time.Hour

// mergedID is the _id of a day's merged fragment. It is the same on every replica, so the
// insert of the merge is also its claim: the first compactor's insert wins, the others' are
// duplicates and only finish the clean-up.
func mergedID(day string) bson.ObjectID {
	t, _ := time.Parse(time.DateOnly, day)
	var id bson.ObjectID
	binary.BigEndian.PutUint32(id[:4], uint32(t.Unix()))
	copy(id[4:], "compact\x00")
	return id
}

// Compact merges each closed day's fragments into one and deletes the fragments whose days are
// all merged, so that loading the rollups at start reads one fragment per old day instead of
// one per ingested batch. Safe on every replica at once and after a crash at any step: the
// merge is written (claimed by its deterministic _id) before any part is deleted, and readers
// skip a part's merged days, so a part and its merge are never counted twice. It returns how
// many days it merged and how many fragments it deleted, and unavailable when the database
// fails.
func (s *Service) Compact(ctx context.Context) (merged, deleted int, err error) {
	s.init()
	parts, covered, merged, err := s.mergeClosedDays(ctx)
	if err != nil {
		return merged, 0, err
	}
	deleted, err = s.deleteMerged(ctx, parts, covered)
	return merged, deleted, err
}

// mergeClosedDays writes a merged fragment for each closed day that has none yet. It returns
// the unmerged fragments that hold a closed day and, per fragment, the closed days a merged
// fragment holds for it.
func (s *Service) mergeClosedDays(ctx context.Context) ([]fragment, map[bson.ObjectID]map[string]bool, int, error) {
	cutoff := dayOf(s.Now.Stored().Add(-closedAfter))
	parts, err := mongodb.FindAll[fragment](ctx, s.fragments(), bson.D{
		{Key: "compacted", Value: bson.D{{Key: "$exists", Value: false}}},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "first_day", Value: bson.D{{Key: "$lt", Value: cutoff}}}},
			bson.D{{Key: "first_day", Value: bson.D{{Key: "$exists", Value: false}}}},
		}},
	}, "analytics rollup")
	if err != nil {
		return nil, nil, 0, err
	}
	byDay := map[string][]*fragDay{}
	ids := map[string][]bson.ObjectID{}
	for i := range parts {
		for j := range parts[i].Days {
			fd := &parts[i].Days[j]
			if fd.Day < cutoff {
				byDay[fd.Day] = append(byDay[fd.Day], fd)
				ids[fd.Day] = append(ids[fd.Day], parts[i].ID)
			}
		}
	}
	days := make([]string, 0, len(byDay))
	wanted := make(bson.A, 0, len(byDay))
	for d := range byDay {
		days = append(days, d)
		wanted = append(wanted, mergedID(d))
	}
	sort.Strings(days)
	covered := map[bson.ObjectID]map[string]bool{}
	cover := func(m *fragment) {
		for _, p := range m.Parts {
			if covered[p] == nil {
				covered[p] = map[string]bool{}
			}
			covered[p][m.Compacted] = true
		}
	}
	existing, err := mongodb.FindAll[fragment](ctx, s.fragments(), bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: wanted}}}},
		"analytics rollup", options.Find().SetProjection(bson.D{{Key: "compacted", Value: 1}, {Key: "parts", Value: 1}}))
	if err != nil {
		return nil, nil, 0, err
	}
	done := map[string]bool{}
	for i := range existing {
		cover(&existing[i])
		done[existing[i].Compacted] = true
	}
	merged := 0
	for _, d := range days {
		if done[d] {
			continue
		}
		m, err := mergeDay(d, byDay[d], ids[d], s.Now.Stored())
		if err != nil {
			return nil, nil, merged, err
		}
		if _, err := s.fragments().InsertOne(ctx, m); err != nil {
			if !mongodb.IsDuplicateKey(err) {
				return nil, nil, merged, fmt.Errorf("merge analytics day %s: %w", d, mongodb.Translate(err, "analytics rollup"))
			}
			// Another compactor merged the day first: its parts are the ones covered.
			var theirs fragment
			if err := s.fragments().FindOne(ctx, bson.D{{Key: "_id", Value: m.ID}}).Decode(&theirs); err != nil {
				return nil, nil, merged, fmt.Errorf("read merged analytics day %s: %w", d, mongodb.Translate(err, "analytics rollup"))
			}
			m = &theirs
		} else {
			merged++
		}
		cover(m)
		if ok, err := s.rollups.addBatch([]fragment{*m}); err != nil {
			return nil, nil, merged, err
		} else if !ok {
			if err := s.loadAll(ctx); err != nil {
				return nil, nil, merged, err
			}
		}
	}
	return parts, covered, merged, nil
}

// mergeDay is the union of one day's parts.
func mergeDay(day string, parts []*fragDay, ids []bson.ObjectID, now time.Time) (*fragment, error) {
	r := newRollups()
	for _, fd := range parts {
		if err := r.addDay(fd); err != nil {
			return nil, fmt.Errorf("merge analytics day %s: %w", day, err)
		}
	}
	fd := fragDay{Day: day}
	for k, a := range r.days[day] {
		fd.Dims = append(fd.Dims, fragDim{Key: k, Users: mustBytes(a.users), Devices: mustBytes(a.devices), Events: a.events})
	}
	sort.Slice(fd.Dims, func(i, j int) bool { return fd.Dims[i].Key < fd.Dims[j].Key })
	return &fragment{ID: mergedID(day), Created: now, FirstDay: day, Days: []fragDay{fd}, Compacted: day, Parts: ids}, nil
}

// deleteMerged deletes the fragments all of whose days are held by merged fragments.
func (s *Service) deleteMerged(ctx context.Context, parts []fragment, covered map[bson.ObjectID]map[string]bool) (int, error) {
	var gone bson.A
	for i := range parts {
		all := true
		for _, fd := range parts[i].Days {
			if !covered[parts[i].ID][fd.Day] {
				all = false
				break
			}
		}
		if all {
			gone = append(gone, parts[i].ID)
		}
	}
	deleted := 0
	for i := 0; i < len(gone); i += 1000 {
		res, err := s.fragments().DeleteMany(ctx, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: gone[i:min(i+1000, len(gone))]}}}})
		if err != nil {
			return deleted, fmt.Errorf("delete merged analytics fragments: %w", mongodb.Translate(err, "analytics rollup"))
		}
		deleted += int(res.DeletedCount)
	}
	return deleted, nil
}
