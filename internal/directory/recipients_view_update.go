package directory

import (
	"context"
	"slices"

	"github.com/mportal/mportal/internal/auth"
)

// update applies fn to the loaded view under the lock, and again on the result of a load in
// progress, which may have read the database before the write fn mirrors.
func (v *RecipientView) update(fn func()) {
	if v == nil {
		return
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.loading {
		v.journal = append(v.journal, fn)
	}
	if v.loaded {
		fn()
	}
}

// putUser mirrors a user that Users created or updated.
func (v *RecipientView) putUser(u *User) {
	roles := roleStrings(u.Roles)
	id, name, no, status, dept := u.ID, u.Name, u.EmployeeNo, u.Status, u.Department
	v.update(func() { v.users[id] = v.userLocked(name, no, status, dept, roles) })
}

// userName returns the name of a user in the view; ok is false when the view is not loaded
// (nil, or not yet used: a lookup does not load it) or does not have the user.
func (v *RecipientView) userName(id string) (name string, ok bool) {
	if v == nil {
		return "", false
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if !v.loaded {
		return "", false
	}
	u, ok := v.users[id]
	if !ok {
		return "", false
	}
	return u.Name, true
}

// putDevice mirrors a device that Devices checked in.
func (v *RecipientView) putDevice(d *Device) {
	vd := viewDevice{Key: d.Key, UserID: d.UserID, Platform: d.Platform, Channel: d.Channel, Locale: d.Locale,
		Timezone: d.Timezone, PushToken: d.PushToken, PushEnabled: d.PushEnabled, LastSeenAt: d.LastSeenAt}
	v.update(func() {
		c := vd
		if _, known := v.devices[c.Key]; !known {
			v.order = nil // a new key: sort again at the next Stream
		}
		v.removeLocked(c.Key)
		v.devices[c.Key] = v.deviceLocked(&c)
		v.byUser[c.UserID] = append(v.byUser[c.UserID], c.Key)
		if c.PushToken != "" {
			v.tokens[c.PushToken] = c.Key
		}
	})
}

// clearToken mirrors Devices removing token from device key.
func (v *RecipientView) clearToken(key, token string) {
	v.update(func() {
		if d := v.devices[key]; d != nil && d.PushToken == token {
			c := *d
			c.PushToken = ""
			v.devices[key] = &c
			if v.tokens[token] == key {
				delete(v.tokens, token)
			}
		}
	})
}

// deleteDevice mirrors Devices deleting device key.
func (v *RecipientView) deleteDevice(key string) {
	v.update(func() {
		v.removeLocked(key)
		v.order = nil
	})
}

// removeLocked forgets device key and its indexes. Devices are replaced, never modified in place,
// because a Stream may still hold the old one.
func (v *RecipientView) removeLocked(key string) {
	d := v.devices[key]
	if d == nil {
		return
	}
	delete(v.devices, key)
	if keys := slices.DeleteFunc(slices.Clone(v.byUser[d.UserID]), func(k string) bool { return k == key }); len(keys) > 0 {
		v.byUser[d.UserID] = keys
	} else {
		delete(v.byUser, d.UserID)
	}
	if d.PushToken != "" && v.tokens[d.PushToken] == key {
		delete(v.tokens, d.PushToken)
	}
}

// tokenOwner returns the user and key of the device holding token in the view.
func (v *RecipientView) tokenOwner(ctx context.Context, token string) (userID, key string, ok bool, err error) {
	if err := v.ensure(ctx); err != nil {
		return "", "", false, err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	d := v.devices[v.tokens[token]]
	if d == nil || d.PushToken != token {
		return "", "", false, nil
	}
	return d.UserID, d.Key, true, nil
}

// deviceToken is the push token device key holds, "" when it has none, has push off or is gone.
func (v *RecipientView) deviceToken(ctx context.Context, key string) (string, error) {
	if err := v.ensure(ctx); err != nil {
		return "", err
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if d := v.devices[key]; d != nil && d.PushEnabled {
		return d.PushToken, nil
	}
	return "", nil
}

// roleStrings converts roles for the view.
func roleStrings(roles []auth.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = string(r)
	}
	return out
}

// moveChannel mirrors Devices moving device key from channel from to channel to; a device on
// another channel by now is left as it is.
func (v *RecipientView) moveChannel(key, from, to string) {
	v.update(func() {
		if d := v.devices[key]; d != nil && d.Channel == from {
			c := *d
			c.Channel = v.intern(to)
			v.devices[key] = &c
		}
	})
}

// offChannelDevices returns the keys of userIDs' devices whose channel is not channel, and
// whether the view could tell (false when it is nil or not loaded: a lookup does not load it).
func (v *RecipientView) offChannelDevices(userIDs []string, channel string) (keys []string, ok bool) {
	if v == nil {
		return nil, false
	}
	v.mu.RLock()
	defer v.mu.RUnlock()
	if !v.loaded {
		return nil, false
	}
	for _, id := range userIDs {
		for _, key := range v.byUser[id] {
			if d := v.devices[key]; d != nil && d.Channel != channel {
				keys = append(keys, key)
			}
		}
	}
	return keys, true
}
