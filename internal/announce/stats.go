package announce

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// RemindEvery is the least time between two reminders of one announcement.
const RemindEvery = 24 * time.Hour

// Stats reports the reach of an announcement: its audience as the directory has it now, the
// devices a push reached, and who read and acknowledged it, overall and by department (a
// reader's department is the one they had when they read). It returns forbidden unless the
// actor has role ops, not_found for an unknown id, and unavailable when the database cannot be
// reached.
func (s *Service) Stats(ctx context.Context, actor *auth.Principal, id string) (_ *Stats, err error) {
	a, err := s.Get(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	defer apperr.Wrapf(&err, "stats of announcement %s", id)
	members, err := s.Members.Members(ctx, a.Audience.push())
	if err != nil {
		return nil, err
	}
	st := &Stats{AudienceSize: len(members), ByDepartment: []DepartmentStats{}}
	depts := map[string]*DepartmentStats{}
	dept := func(name string) *DepartmentStats {
		if depts[name] == nil {
			depts[name] = &DepartmentStats{Department: name}
		}
		return depts[name]
	}
	for _, m := range members {
		dept(m.Department).Audience++
		if a.PublishedAt != nil {
			st.Pushed += m.PushDevices
		}
	}
	for _, c := range []struct {
		coll  string
		total *int
		count func(*DepartmentStats)
	}{
		{readsColl, &st.Read, func(d *DepartmentStats) { d.Read++ }},
		{acksColl, &st.Acknowledged, func(d *DepartmentStats) { d.Acknowledged++ }},
	} {
		docs, err := s.progress(ctx, c.coll, id)
		if err != nil {
			return nil, err
		}
		*c.total = len(docs)
		for _, d := range docs {
			c.count(dept(d.Department))
		}
	}
	for _, d := range depts {
		st.ByDepartment = append(st.ByDepartment, *d)
	}
	slices.SortFunc(st.ByDepartment, func(a, b DepartmentStats) int { return cmp.Compare(a.Department, b.Department) })
	return st, nil
}

// progress reads the read or acknowledgement documents of one announcement. This filter scans
// the collection on the embedded database; only ops endpoints use it.
func (s *Service) progress(ctx context.Context, coll, id string) ([]progressDoc, error) {
	cur, err := s.DB.Collection(coll).Find(ctx, bson.D{{Key: "announcement", Value: id}})
	if err != nil {
		return nil, mongodb.Translate(err, "announcement")
	}
	var docs []progressDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, mongodb.Translate(err, "announcement")
	}
	return docs, nil
}

// reminderDoc is an announce_reminders claim, "<announcement id>:<n>".
type reminderDoc struct {
	Announcement string    `bson:"announcement"`
	N            int       `bson:"n"`
	At           time.Time `bson:"at"`
	Recipients   int       `bson:"recipients"`
}

// Remind pushes the announcement again to the audience users who have not read it, at most once
// per RemindEvery across every instance: the n-th reminder is the Claim "<id>:<n>". When everyone
// has read it, nothing is sent and Recipients is 0. It returns forbidden unless the actor has
// role ops, not_found for an unknown id, conflict when the announcement is not published (or
// withdrawn or expired) or was reminded less than RemindEvery ago, and unavailable when the
// database cannot be reached.
func (s *Service) Remind(ctx context.Context, actor *auth.Principal, id string) (_ *Reminder, err error) {
	a, err := s.Get(ctx, actor, id)
	if err != nil {
		return nil, err
	}
	if a.Status != StatusPublished {
		return nil, apperr.New(apperr.Conflict, "only a published announcement can be reminded of (this one is %s)", a.Status)
	}
	defer apperr.Wrapf(&err, "remind of announcement %s", id)
	now := s.Now.Stored()
	var last reminderDoc
	err = s.DB.Collection(remindersColl).FindOne(ctx, bson.D{{Key: "announcement", Value: id}},
		options.FindOne().SetSort(bson.D{{Key: "n", Value: -1}})).Decode(&last)
	switch {
	case mongodb.IsNotFound(err):
	case err != nil:
		return nil, mongodb.Translate(err, "reminder")
	case now.Sub(last.At) < RemindEvery:
		return nil, apperr.New(apperr.Conflict, "a reminder was sent at %s; the next one can be sent from %s",
			last.At.UTC().Format(time.RFC3339), last.At.Add(RemindEvery).UTC().Format(time.RFC3339))
	}
	unread, err := s.unread(ctx, a)
	if err != nil {
		return nil, err
	}
	r := &Reminder{Number: last.N + 1, Recipients: len(unread), SentAt: now}
	if len(unread) == 0 {
		r.Number = last.N
		return r, nil
	}
	won, err := mongodb.Claim(ctx, s.DB.Collection(remindersColl), id+":"+strconv.Itoa(r.Number), bson.D{
		{Key: "announcement", Value: id}, {Key: "n", Value: r.Number}, {Key: "at", Value: now}, {Key: "recipients", Value: len(unread)},
	})
	if err != nil {
		return nil, err
	}
	if !won {
		return nil, apperr.New(apperr.Conflict, "another reminder of this announcement was sent just now")
	}
	key := remindKey(id, r.Number)
	if _, _, err := s.Push.Enqueue(ctx, notification(a, key, push.Audience{UserIDs: unread})); err != nil {
		// Give the reminder back so that ops can retry at once rather than in RemindEvery; the
		// retry enqueues the same key, which delivers once even if this attempt got halfway.
		claim := bson.D{{Key: "_id", Value: id + ":" + strconv.Itoa(r.Number)}}
		if _, derr := s.DB.Collection(remindersColl).DeleteOne(context.WithoutCancel(ctx), claim); derr != nil {
			return nil, errors.Join(err, fmt.Errorf("release reminder claim: %w", mongodb.Translate(derr, "reminder")))
		}
		return nil, err
	}
	return r, nil
}

// unread lists the audience users who have not read a.
func (s *Service) unread(ctx context.Context, a *Announcement) ([]string, error) {
	members, err := s.Members.Members(ctx, a.Audience.push())
	if err != nil {
		return nil, err
	}
	reads, err := s.progress(ctx, readsColl, a.ID)
	if err != nil {
		return nil, err
	}
	read := make(map[string]bool, len(reads))
	for _, d := range reads {
		read[d.UserID] = true
	}
	var unread []string
	for _, m := range members {
		if !read[m.UserID] {
			unread = append(unread, m.UserID)
		}
	}
	return unread, nil
}
