package directory

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/mportal/mportal/push"
)

// members is Recipients.Members served from the view, with the same rules: user criteria select
// active users, a channel selects the active users with a device on it, and each member's
// pushable devices are counted. It reads no collection once the view is loaded, so a release
// confirmation or an announcement's reach estimate costs milliseconds instead of two scans.
func (v *RecipientView) members(ctx context.Context, aud push.Audience, now time.Time) ([]Member, error) {
	if err := v.ensure(ctx); err != nil {
		return nil, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	chosen := make(map[string]bool)
	for id, u := range v.users {
		if u.Status == StatusActive && (aud.All || slices.Contains(aud.Departments, u.Department) || slices.Contains(aud.UserIDs, id) ||
			slices.ContainsFunc(u.Roles, func(r string) bool { return slices.Contains(aud.Roles, r) })) {
			chosen[id] = true
		}
	}
	if len(aud.Channels) > 0 {
		for _, d := range v.devices {
			if u := v.users[d.UserID]; u != nil && u.Status == StatusActive && slices.Contains(aud.Channels, d.Channel) {
				chosen[d.UserID] = true
			}
		}
	}
	members := make([]Member, 0, len(chosen))
	for id := range chosen {
		m := Member{UserID: id, Department: v.users[id].Department}
		for _, key := range v.byUser[id] {
			if d := v.devices[key]; d != nil && d.PushToken != "" && d.PushEnabled && now.Sub(d.LastSeenAt) <= push.StaleAfter {
				m.PushDevices++
			}
		}
		members = append(members, m)
	}
	slices.SortFunc(members, func(a, b Member) int { return strings.Compare(a.UserID, b.UserID) })
	return members, nil
}
