package approval

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
)

// taskView keeps every task in memory, by holder, for the approver's list on the embedded
// database (Service.ListInMemory): FerretDB pushes down only _id filters, so a list query would scan and decode every
// task of the collection (about 60–100 ms for 500 tasks, measured). The embedded database is
// only ever served by one mportal process (see mongodb.DB.Lock), so this process sees every
// write: writeTask puts each task it wrote, under the task's lock, after the write committed.
// The view loads itself from the collection at its first use; a write racing the load waits
// for it and then puts its newer state. MongoDB lists from the index instead.
type taskView struct {
	mu     sync.Mutex
	loaded bool
	byID   map[string]*Task
	byUser map[string]map[string]*Task
}

// put records t (a copy) as the newest state of its task.
func (v *taskView) put(t *Task) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.loaded {
		v.putLocked(t)
	}
}

func (v *taskView) putLocked(t *Task) {
	c := *t
	if old := v.byID[c.ID]; old != nil && old.ApproverUserID != c.ApproverUserID {
		delete(v.byUser[old.ApproverUserID], c.ID)
	}
	v.byID[c.ID] = &c
	if v.byUser[c.ApproverUserID] == nil {
		v.byUser[c.ApproverUserID] = map[string]*Task{}
	}
	v.byUser[c.ApproverUserID][c.ID] = &c
}

// load reads every task once.
func (v *taskView) load(ctx context.Context, s *Service) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.loaded {
		return nil
	}
	cur, err := s.coll(tasksColl).Find(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("load tasks: %w", mongodb.Translate(err, "task"))
	}
	var tasks []Task
	if err := cur.All(ctx, &tasks); err != nil {
		return fmt.Errorf("load tasks: %w", mongodb.Translate(err, "task"))
	}
	v.byID, v.byUser = map[string]*Task{}, map[string]map[string]*Task{}
	for i := range tasks {
		v.putLocked(&tasks[i])
	}
	v.loaded = true
	return nil
}

// page returns userID's first n tasks after the cursor position that match keep, in list
// order.
func (v *taskView) page(userID string, keep func(*Task) bool, n int) []Task {
	v.mu.Lock()
	out := make([]Task, 0, len(v.byUser[userID]))
	for _, t := range v.byUser[userID] {
		if keep(t) {
			out = append(out, *t)
		}
	}
	v.mu.Unlock()
	slices.SortFunc(out, compareListOrder)
	return out[:min(n, len(out))]
}

// compareListOrder is the list's order: open first, then newest, then by id, descending.
func compareListOrder(a, b Task) int {
	switch {
	case a.Open != b.Open:
		if a.Open {
			return -1
		}
		return 1
	case !a.CreatedAt.Equal(b.CreatedAt):
		return b.CreatedAt.Compare(a.CreatedAt)
	}
	return strings.Compare(b.ID, a.ID)
}
