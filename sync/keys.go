package datasync

import "github.com/mportal/mportal/internal/auth"

// AllKey is the audience key every user holds: records stamped with it are seen by everyone.
const AllKey = "all"

// UserKey is the audience key only userID holds: records private to that user (their inbox,
// their own feedback) carry it.
func UserKey(userID string) string { return "u:" + userID }

// ChannelKey is the audience key of a release channel's testers: users hold it once it has been
// granted to them (see Engine.Grant).
func ChannelKey(appID, channel string) string { return "ch:" + appID + "/" + channel }

// RoleKey is the audience key every holder of role r holds (ops see all feedback through it).
func RoleKey(r auth.Role) string { return "r:" + string(r) }

// DeptKey is the audience key every member of department d holds.
func DeptKey(d string) string { return "d:" + d }

// staticKeys returns the keys p holds by who they are, before any grant.
func staticKeys(p *auth.Principal) []string {
	keys := make([]string, 0, 3+len(p.Roles))
	keys = append(keys, AllKey, UserKey(p.UserID))
	for _, r := range p.Roles {
		keys = append(keys, RoleKey(r))
	}
	if p.Department != "" {
		keys = append(keys, DeptKey(p.Department))
	}
	return keys
}
