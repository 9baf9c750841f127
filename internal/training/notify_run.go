package training

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/quiet"
	"github.com/mportal/mportal/push"
)

// assignChunk bounds the users of one "assigned" push (one outbox notification each chunk).
const assignChunk = 500

// NoticesSent counts what one pass sent.
type NoticesSent struct {
	Assigned, Reminders int
}

// RunOnce makes one pass over the watchable required videos: the assignment push to audience
// users not told yet, then the latest due reminder step to those who have not completed it.
// A failure with one video or user is reported, and the others are still notified.
func (n *Notices) RunOnce(ctx context.Context) (NoticesSent, error) {
	var out NoticesSent
	cur, err := n.DB.Collection(videosColl).Find(ctx, bson.D{{Key: "deleted", Value: false},
		{Key: "required", Value: true}, {Key: "published", Value: true}})
	if err != nil {
		return out, fmt.Errorf("required videos: %w", mongodb.Translate(err, "video"))
	}
	var videos []videoDoc
	if err := cur.All(ctx, &videos); err != nil {
		return out, fmt.Errorf("required videos: %w", mongodb.Translate(err, "video"))
	}
	var errs []error
	for i := range videos {
		v := &videos[i]
		if v.Current == nil { // not watchable yet
			continue
		}
		a, r, err := n.video(ctx, v)
		out.Assigned += a
		out.Reminders += r
		if err != nil {
			errs = append(errs, fmt.Errorf("video %s: %w", v.ID, err))
		}
	}
	return out, errors.Join(errs...)
}

// video notifies one watchable required video's audience.
func (n *Notices) video(ctx context.Context, v *videoDoc) (assigned, reminded int, err error) {
	users, err := n.audience(ctx, v)
	if err != nil {
		return 0, 0, err
	}
	docs, err := n.notices(ctx, v.ID)
	if err != nil {
		return 0, 0, err
	}
	now := n.Now.Stored()
	sent := make(map[string]time.Time, len(docs))
	var stale []noticeDoc
	for _, d := range docs {
		sent[d.ID] = d.At
		if d.Pending && now.Sub(d.At) >= pendingGrace {
			stale = append(stale, d)
		}
	}
	repairErr := n.resend(ctx, v, stale)
	var fresh, told []string
	for _, u := range users {
		if _, ok := sent[noticeID(v.ID, u, stepAssigned)]; ok {
			told = append(told, u)
		} else {
			fresh = append(fresh, u)
		}
	}
	errs := []error{repairErr}
	for c := range slices.Chunk(fresh, assignChunk) {
		k, err := n.assign(ctx, v, c, now)
		assigned += k
		errs = append(errs, err)
	}
	if v.DueAt != nil && len(told) > 0 {
		reminded, err = n.remind(ctx, v, told, sent, now)
		errs = append(errs, err)
	}
	return assigned, reminded, errors.Join(errs...)
}

// audience lists the active users a video is meant for, by the catalogue's rule: any of its
// roles (empty: every role) and one of its departments (empty: every department).
func (n *Notices) audience(ctx context.Context, v *videoDoc) ([]string, error) {
	ids := func(aud push.Audience) ([]string, error) {
		ms, err := n.Members.Members(ctx, aud)
		if err != nil {
			return nil, fmt.Errorf("audience: %w", err)
		}
		out := make([]string, len(ms))
		for i, m := range ms {
			out[i] = m.UserID
		}
		slices.Sort(out)
		return out, nil
	}
	switch {
	case len(v.Roles) == 0 && len(v.Departments) == 0:
		return ids(push.Audience{All: true})
	case len(v.Departments) == 0:
		return ids(push.Audience{Roles: v.Roles})
	case len(v.Roles) == 0:
		return ids(push.Audience{Departments: v.Departments})
	}
	byRole, err := ids(push.Audience{Roles: v.Roles})
	if err != nil {
		return nil, err
	}
	byDept, err := ids(push.Audience{Departments: v.Departments})
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(byRole, func(u string) bool { _, ok := slices.BinarySearch(byDept, u); return !ok }), nil
}

// assign claims the assignment of v to each of users and sends the users it won one push.
func (n *Notices) assign(ctx context.Context, v *videoDoc, users []string, now time.Time) (int, error) {
	var won []string
	for _, u := range users {
		id := noticeID(v.ID, u, stepAssigned)
		ok, err := n.claim(ctx, noticeDoc{ID: id, VideoID: v.ID, UserID: u, Step: stepAssigned, At: now, Pending: true})
		if err != nil {
			n.giveBack(v.ID, won, stepAssigned)
			return 0, err
		}
		if ok {
			won = append(won, u)
		}
	}
	if len(won) == 0 {
		return 0, nil
	}
	if err := n.enqueueAssigned(ctx, v, won); err != nil {
		n.giveBack(v.ID, won, stepAssigned)
		return 0, err
	}
	n.confirm(ctx, noticeIDs(v.ID, won, stepAssigned))
	return len(won), nil
}

// enqueueAssigned enqueues the assignment push of v to users (sorted), keyed by them.
func (n *Notices) enqueueAssigned(ctx context.Context, v *videoDoc, users []string) error {
	sum := sha256.Sum256([]byte(strings.Join(users, ",")))
	p := n.notification(v, stepAssigned, users)
	p.Key = "training:" + v.ID + ":assigned:" + hex.EncodeToString(sum[:12])
	if _, _, err := n.Push.Enqueue(ctx, p); err != nil {
		return fmt.Errorf("enqueue assignment: %w", err)
	}
	return nil
}

// resend enqueues again the pushes of claims an instance left pending (it died between the
// claim and the enqueue, or the enqueue's confirmation failed), under the keys that instance
// used: a push it did enqueue is not sent twice. One pass's assignment claims are its users in
// order, so together they make the same key.
func (n *Notices) resend(ctx context.Context, v *videoDoc, stale []noticeDoc) error {
	var assigned []string
	var errs []error
	for _, d := range stale {
		if d.Step == stepAssigned {
			assigned = append(assigned, d.UserID)
			continue
		}
		p := n.notification(v, d.Step, []string{d.UserID})
		p.Key = "training:" + d.ID
		if _, _, err := n.Push.Enqueue(ctx, p); err != nil {
			errs = append(errs, fmt.Errorf("enqueue reminder %s again: %w", d.ID, err))
			continue
		}
		n.confirm(ctx, []string{d.ID})
	}
	slices.Sort(assigned)
	for c := range slices.Chunk(assigned, assignChunk) {
		if err := n.enqueueAssigned(ctx, v, c); err != nil {
			errs = append(errs, err)
			continue
		}
		n.confirm(ctx, noticeIDs(v.ID, c, stepAssigned))
	}
	return errors.Join(errs...)
}

func noticeIDs(videoID string, users []string, step string) []string {
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = noticeID(videoID, u, step)
	}
	return ids
}

func (n *Notices) giveBack(videoID string, users []string, step string) {
	if len(users) == 0 {
		return
	}
	n.unclaim(noticeIDs(videoID, users, step))
}

// remind sends each user told of v the latest reminder step that is due, unless they completed
// the video, were told of it after that step's time (the assignment push said as much), or
// their quiet hours hold it back. Steps whose time passed while none could be sent are not
// caught up.
func (n *Notices) remind(ctx context.Context, v *videoDoc, users []string, sent map[string]time.Time, now time.Time) (int, error) {
	var step *Step
	var at time.Time
	for i, s := range n.steps() {
		if t := v.DueAt.Add(s.Offset); !t.After(now) {
			step, at = &n.steps()[i], t
		}
	}
	if step == nil {
		return 0, nil
	}
	var due []string
	for _, u := range users {
		_, done := sent[noticeID(v.ID, u, step.Name)]
		if !done && sent[noticeID(v.ID, u, stepAssigned)].Before(at) {
			due = append(due, u)
		}
	}
	if len(due) == 0 {
		return 0, nil
	}
	completed := map[string]bool{}
	if n.Completions != nil {
		var err error
		if completed, err = n.Completions.Completed(ctx, v.ID, due); err != nil {
			return 0, fmt.Errorf("completions: %w", err)
		}
	}
	count := 0
	var errs []error
	for _, u := range due {
		if completed[u] {
			continue
		}
		ok, err := n.remindUser(ctx, v, u, *step, now)
		if err != nil {
			errs = append(errs, err)
		} else if ok {
			count++
		}
	}
	return count, errors.Join(errs...)
}

// remindUser sends one reminder step to a user outside their quiet hours, or within them when
// the video falls due before they end (the push then skips the engine's quiet-hours delay).
func (n *Notices) remindUser(ctx context.Context, v *videoDoc, userID string, s Step, now time.Time) (bool, error) {
	w, err := n.quiet(ctx, userID)
	if err != nil {
		return false, err
	}
	end, quietNow := w.Until(now)
	dueWithin := v.DueAt.After(now) && !v.DueAt.After(end)
	if quietNow && !dueWithin {
		return false, nil
	}
	id := noticeID(v.ID, userID, s.Name)
	ok, err := n.claim(ctx, noticeDoc{ID: id, VideoID: v.ID, UserID: userID, Step: s.Name, At: now, Pending: true})
	if err != nil || !ok {
		return false, err
	}
	p := n.notification(v, s.Name, []string{userID})
	p.Key = "training:" + id
	p.Urgent = quietNow
	if _, _, err := n.Push.Enqueue(ctx, p); err != nil {
		n.unclaim([]string{id})
		return false, fmt.Errorf("enqueue reminder %s: %w", id, err)
	}
	n.confirm(ctx, []string{id})
	return true, nil
}

// quiet reads a user's quiet hours: their push preferences, in the preferences' zone, else the
// user's directory zone (Zone), else UTC.
func (n *Notices) quiet(ctx context.Context, userID string) (quiet.Window, error) {
	prefs, err := n.Prefs.Get(ctx, &auth.Principal{UserID: userID})
	if err != nil {
		return quiet.Window{}, fmt.Errorf("push preferences of %s: %w", userID, err)
	}
	tz := ""
	if prefs.Timezone == "" && n.Zone != nil {
		if tz, err = n.Zone(ctx, userID); err != nil {
			return quiet.Window{}, fmt.Errorf("time zone of %s: %w", userID, err)
		}
	}
	return quiet.From(prefs, tz), nil
}

// notification is the push of one step ("assigned" or a reminder) of v to users, without its key.
func (n *Notices) notification(v *videoDoc, step string, users []string) push.Notification {
	title := clipTitle(v.Title)
	p := push.Notification{
		Category: push.CategoryTraining,
		Audience: push.Audience{UserIDs: users},
		Title:    map[string]string{"zh-CN": "必修培训：" + title, "en": "Required training: " + title},
		Body:     map[string]string{"zh-CN": "请观看这个必修培训视频", "en": "Please watch this required training video"},
		DeepLink: "mportal://training/" + v.ID,
		Data:     map[string]string{"video_id": v.ID, "training_event": step},
	}
	if v.DueAt != nil {
		due := v.DueAt.UTC().Format(time.RFC3339)
		p.Data["due_at"] = due
		if step != stepAssigned {
			p.Title = map[string]string{"zh-CN": "培训提醒：" + title, "en": "Training reminder: " + title}
			if v.DueAt.After(n.Now.Stored()) {
				p.Body = map[string]string{"zh-CN": "必修培训即将到期，请尽快观看", "en": "This required training is due soon"}
			} else {
				p.Body = map[string]string{"zh-CN": "必修培训已过期，请尽快观看", "en": "This required training is overdue"}
			}
		}
	}
	return p
}

// clipTitle keeps a title within the push title limit.
func clipTitle(s string) string {
	r := []rune(s)
	if len(r) > 150 {
		return string(r[:150]) + "…"
	}
	return s
}
