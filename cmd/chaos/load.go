package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mportal/mportal/internal/chaos"
)

// department is where every simulated user works: the announcements' audience.
const department = "Chaos"

type tokenResp struct {
	AccessToken            string `json:"access_token"`
	PasswordChangeRequired bool   `json:"password_change_required"`
}

// signIn logs in with a one-time password, sets a new one and logs in again on device.
func signIn(ctx context.Context, c *client, login, otp, device string) (string, error) {
	var first tokenResp
	if err := c.retry(ctx, "POST", "/v1/auth/login", "", map[string]string{"login": login, "password": otp, "device_id": device}, &first); err != nil {
		return "", err
	}
	pw := login + "-chaos-passphrase"
	if err := c.retry(ctx, "POST", "/v1/me/password", first.AccessToken, map[string]string{"current_password": otp, "new_password": pw}, nil); err != nil {
		return "", err
	}
	return logIn(ctx, c, login, pw, device)
}

// logIn logs in with the password signIn set.
func logIn(ctx context.Context, c *client, login, password, device string) (string, error) {
	var tk tokenResp
	err := c.retry(ctx, "POST", "/v1/auth/login", "", map[string]string{"login": login, "password": password, "device_id": device}, &tk)
	return tk.AccessToken, err
}

func createUser(ctx context.Context, c *client, admin, employeeNo string, roles []string) (string, error) {
	var out struct {
		OneTimePassword string `json:"one_time_password"`
	}
	err := c.retry(ctx, "POST", "/v1/admin/users", admin, map[string]any{
		"employee_no": employeeNo, "name": employeeNo, "department": department, "locale": "en", "roles": roles,
	}, &out)
	return out.OneTimePassword, err
}

// device is one simulated phone: its user's feedback records are what it writes; every pull it
// applied is kept for the checker.
type device struct {
	user, id, token, pushToken string
	cursor                     int64
	pulls                      []chaos.Pull
	mine                       map[string]string // live records it created: id -> text
	n                          int
}

func (d *device) checkIn(ctx context.Context, c *client) error {
	return c.retry(ctx, "PUT", "/v1/devices/"+d.id, d.token, map[string]any{
		"platform": "android", "model": "Pixel 8", "os_version": "15", "app_id": "com.example.portal",
		"app_version": "2.3.0", "build_number": 230, "channel": "stable", "locale": "en",
		"timezone": "Asia/Shanghai", "push_token": d.pushToken, "push_enabled": true,
	}, nil)
}

// checkedColumns are the tables whose records the sync check follows, each with the column it
// compares: the feedback's text (the devices write it), an attachment's status (the server
// settles it when the photo's upload completes).
var checkedColumns = map[string]string{"feedback": "text", "feedback_attachments": "status"}

// changed reports whether pull p sent anything of the checked tables.
func changed(p chaos.Pull) bool {
	for table := range checkedColumns {
		if len(p.Updated[table])+len(p.Deleted[table]) > 0 {
			return true
		}
	}
	return false
}

type pullResp struct {
	Changes map[string]struct {
		Updated []map[string]any `json:"updated"`
		Deleted []string         `json:"deleted"`
	} `json:"changes"`
	Timestamp int64 `json:"timestamp"`
}

func (d *device) pull(ctx context.Context, c *client) error {
	since := "null"
	if d.cursor > 0 {
		since = strconv.FormatInt(d.cursor, 10)
	}
	var out pullResp
	if _, err := c.do(ctx, "GET", "/v1/sync/pull?schema_version=2&migration=null&last_pulled_at="+since, d.token, nil, &out); err != nil {
		return err
	}
	d.pulls = append(d.pulls, pullOf(out))
	d.cursor = out.Timestamp
	return nil
}

// pullOf is what the checker keeps of a pull's answer: the checked tables' records, each by id
// with its checked column, the deleted ids, and any id the answer named twice as updated.
func pullOf(out pullResp) chaos.Pull {
	p := chaos.Pull{Updated: map[string]map[string]string{}, Deleted: map[string][]string{}, Repeated: map[string][]string{}}
	for table, field := range checkedColumns {
		ch, ok := out.Changes[table]
		if !ok {
			continue
		}
		p.Updated[table] = map[string]string{}
		for _, r := range ch.Updated {
			id, _ := r["id"].(string)
			value, _ := r[field].(string)
			if _, twice := p.Updated[table][id]; twice {
				p.Repeated[table] = append(p.Repeated[table], id)
			}
			p.Updated[table][id] = value
		}
		p.Deleted[table] = ch.Deleted
	}
	return p
}

func feedbackRecord(id, text string) map[string]any {
	return map[string]any{
		"id": id, "category": "bug", "text": text, "latitude": 31.23, "longitude": 121.47, "accuracy_m": 8,
		"app_id": "portal", "build": 230, "version": "2.3.0", "channel": "beta", "platform": "android",
		"device_model": "Pixel 8", "os_version": "15", "created_at": time.Now().UnixMilli(),
		"share_with_testers": false, "status": "new",
	}
}

// writes collects the sync writes acknowledged with a 2xx, in the order they were acknowledged.
type writes struct {
	seq atomic.Int64
	mu  sync.Mutex
	all []chaos.SyncWrite
}

func (w *writes) add(sw chaos.SyncWrite) {
	sw.Seq = w.seq.Add(1)
	w.mu.Lock()
	w.all = append(w.all, sw)
	w.mu.Unlock()
}

// step makes one change (create, edit or delete one of its records) and pushes it until it is
// acknowledged, sometimes twice (a replay, as an app whose answer was lost sends it again).
func (d *device) step(ctx context.Context, c *client, rng *rand.Rand, w *writes) error {
	var op string
	var id, text string
	changes := map[string]any{"created": []any{}, "updated": []any{}, "deleted": []any{}}
	switch r := rng.IntN(10); {
	case len(d.mine) == 0 || r < 4:
		d.n++
		op, id, text = "create", fmt.Sprintf("%s-%d", d.id, d.n), fmt.Sprintf("%s note %d v1", d.id, d.n)
		changes["created"] = []any{feedbackRecord(id, text)}
	case r < 8:
		op, id = "edit", anyKey(d.mine, rng)
		text = d.mine[id] + "+"
		changes["updated"] = []any{feedbackRecord(id, text)}
	default:
		op, id = "delete", anyKey(d.mine, rng)
		changes["deleted"] = []any{id}
	}
	body := map[string]any{"changes": map[string]any{"feedback": changes}}
	var res struct {
		Rejected []struct{ Table, ID, Code string } `json:"rejected"`
	}
	// Acknowledged once any attempt answered 2xx without rejecting the record: a replay that
	// fails or is sent back (unavailable, out of time) does not take the write back, so the
	// checker must still find it. Before, only the last attempt counted.
	replays := 1 + rng.IntN(2)
	acknowledged := false
	for i := 0; i < replays; i++ {
		res.Rejected = nil
		if err := c.retry(ctx, "POST", "/v1/sync/push?last_pulled_at="+strconv.FormatInt(d.cursor, 10), d.token, body, &res); err != nil {
			if !acknowledged {
				return err
			}
			break
		}
		if !slices.ContainsFunc(res.Rejected, func(r struct{ Table, ID, Code string }) bool { return r.ID == id }) {
			acknowledged = true
		}
	}
	if !acknowledged {
		return nil // not acknowledged: the device keeps its record as it was
	}
	switch op {
	case "delete":
		delete(d.mine, id)
		w.add(chaos.SyncWrite{Table: "feedback", ID: id, Deleted: true})
	default:
		d.mine[id] = text
		w.add(chaos.SyncWrite{Table: "feedback", ID: id, Value: text})
	}
	return nil
}

func anyKey(m map[string]string, rng *rand.Rand) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return ""
	}
	// map order is random but not uniform; sort-free pick is fine for load
	return keys[rng.IntN(len(keys))]
}

// userOf is the user a record id belongs to: feedback ids are "<user>-<device letter>-<n>"
// (the uploaders': "<user>-u<k>-<n>"), attachment ids their feedback's with "-p".
func userOf(table, id string) string {
	if table == "feedback_attachments" {
		id = strings.TrimSuffix(id, "-p")
	}
	parts := strings.Split(id, "-")
	if len(parts) < 3 {
		return ""
	}
	return strings.Join(parts[:len(parts)-2], "-")
}
