package feedback

import "slices"

// Statuses lists every status.
var Statuses = []string{StatusNew, StatusAcknowledged, StatusInProgress, StatusResolved, StatusWontFix, StatusDuplicate}

// open reports whether feedback in status is still being handled.
func open(status string) bool {
	return status == StatusNew || status == StatusAcknowledged || status == StatusInProgress
}

// canMove reports whether ops may change a status from one value to another with PATCH:
// new -> acknowledged -> in_progress; any open status -> resolved or wont_fix; a closed one
// (resolved, wont_fix, duplicate) is reopened to in_progress. duplicate is only set by a merge.
func canMove(from, to string) bool {
	switch {
	case from == to:
		return true
	case to == StatusDuplicate || to == StatusNew:
		return false
	case from == StatusNew && to == StatusAcknowledged, from == StatusAcknowledged && to == StatusInProgress:
		return true
	case open(from) && (to == StatusResolved || to == StatusWontFix):
		return true
	case !open(from) && to == StatusInProgress:
		return true
	}
	return false
}

func validStatus(s string) bool { return slices.Contains(Statuses, s) }

// NextStatuses lists the statuses ops may set on feedback now in status from, from itself
// included (a form that keeps the status changes nothing), in the order of Statuses.
func NextStatuses(from string) []string {
	return slices.DeleteFunc(slices.Clone(Statuses), func(to string) bool { return !canMove(from, to) })
}
