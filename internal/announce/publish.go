package announce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
)

// PublishInterval is how often the publisher loop should call PublishDue.
const PublishInterval = time.Second

// enqueueGrace is how long a publish claim may wait for its winner to confirm the push before
// another instance enqueues it again (harmless: the push Key makes that a no-op when the
// winner did enqueue before it crashed).
const enqueueGrace = 30 * time.Second

// PublishDue publishes the scheduled announcements whose time has come, each exactly once
// across every instance sharing the database, and repairs publications whose push or sync stamp
// a crashed (or failed) instance never wrote. Run it every PublishInterval on every instance; it also refreshes
// this instance's view of what other instances wrote. It returns the first failure after
// trying every due announcement.
func (s *Service) PublishDue(ctx context.Context) error {
	if err := s.reload(ctx); err != nil {
		return err
	}
	now := s.Now.Stored()
	s.view.mu.RLock()
	var due, unconfirmed, unstamped, withdrawals []*Announcement
	for _, a := range s.view.all {
		switch {
		case a.Status == StatusWithdrawn && s.view.withdrawUnstamped[a.ID] && now.Sub(*a.WithdrawnAt) > enqueueGrace:
			withdrawals = append(withdrawals, a)
		case a.Status == StatusScheduled && !a.PublishAt.After(now):
			due = append(due, a)
		case a.Status == StatusPublished && now.Sub(*a.PublishedAt) > enqueueGrace:
			if s.view.pending[a.ID] {
				unconfirmed = append(unconfirmed, a)
			}
			if s.view.unstamped[a.ID] {
				unstamped = append(unstamped, a)
			}
		}
	}
	s.view.mu.RUnlock()
	var errs []error
	for _, a := range due {
		errs = append(errs, s.publishIfDue(ctx, a.ID, now))
	}
	for _, a := range unconfirmed {
		errs = append(errs, s.enqueue(ctx, a))
	}
	for _, a := range unstamped {
		errs = append(errs, s.stampPublished(ctx, a.ID))
	}
	for _, a := range withdrawals {
		errs = append(errs, s.stampWithdrawn(ctx, a.ID))
	}
	if len(due)+len(unconfirmed)+len(unstamped)+len(withdrawals) > 0 {
		errs = append(errs, s.reload(ctx))
	}
	return errors.Join(errs...)
}

// publishIfDue re-reads the announcement, since another instance may have moved its
// publish_at since the view was loaded, and publishes it when it is still due.
func (s *Service) publishIfDue(ctx context.Context, id string, now time.Time) error {
	var a Announcement
	if err := s.DB.Collection(announcementsColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&a); err != nil {
		return fmt.Errorf("publish announcement %s: %w", id, mongodb.Translate(err, "announcement"))
	}
	if a.PublishAt.After(now) {
		return nil
	}
	if err := s.publish(ctx, &a); err != nil {
		return err
	}
	return s.stampPublished(ctx, id)
}

// stampWithdrawn writes the sync stamp of a withdrawal and confirms it on the withdraw claim.
// Until then PublishDue stamps it again (after enqueueGrace), as for a publication: without
// the stamp, devices that synced before keep the announcement and its inbox items.
func (s *Service) stampWithdrawn(ctx context.Context, id string) error {
	if err := s.stampWithdrawal(ctx, id); err != nil {
		return err
	}
	_, err := s.DB.Collection(withdrawColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "stamped_at", Value: s.Now.Stored()}}}})
	if err != nil {
		return fmt.Errorf("confirm sync stamp of withdrawn announcement %s: %w", id, mongodb.Translate(err, "announcement"))
	}
	return nil
}

// stampPublished writes the sync stamp of a publication and confirms it on the publish claim.
// Until then PublishDue stamps it again (after enqueueGrace): a publication whose stamp was
// never written (a crash after the claim, a failed write) was never pulled by the devices that
// had synced before it.
func (s *Service) stampPublished(ctx context.Context, id string) error {
	if err := s.stamp(ctx, id); err != nil {
		return err
	}
	_, err := s.DB.Collection(publishColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "stamped_at", Value: s.Now.Stored()}}}})
	if err != nil {
		return fmt.Errorf("confirm sync stamp of announcement %s: %w", id, mongodb.Translate(err, "announcement"))
	}
	return nil
}

// publish claims the publication of a; only the winner of the claim enqueues its push. a may be
// older than the claim: a withdrawal or an edit (another instance's, or one that ran between
// the caller's read and the claim) may have landed in between. So the winner decides on what
// it reads after the claim: withdrawn, it pushes nothing; postponed, it gives the claim back;
// else it pushes the announcement as it now reads. (Before, a withdrawal between a check and
// the claim was still pushed, and a postponement at the due second published anyway.)
func (s *Service) publish(ctx context.Context, a *Announcement) error {
	claims := s.DB.Collection(publishColl)
	won, err := mongodb.Claim(ctx, claims, a.ID, bson.D{{Key: "published_at", Value: s.Now.Stored()}})
	if err != nil || !won {
		return err
	}
	withdrawn, err := exists(s.DB.Collection(withdrawColl).FindOne(ctx, bson.D{{Key: "_id", Value: a.ID}}).Err())
	if err != nil || withdrawn {
		return err // an unreadable state leaves the claim unconfirmed: PublishDue enqueues it later
	}
	cur, err := s.readForPush(ctx, a.ID)
	if err != nil {
		return err
	}
	if cur.PublishAt.After(s.Now.Stored()) {
		if _, err := claims.DeleteOne(ctx, bson.D{{Key: "_id", Value: a.ID}}); err != nil {
			return fmt.Errorf("give back the publication of announcement %s: %w", a.ID, mongodb.Translate(err, "announcement"))
		}
		return nil
	}
	s.log().Info("announcement published", "announcement", a.ID)
	return s.enqueue(ctx, cur)
}

// readForPush reads the announcement a publish claim's winner pushes and, when it is due, writes
// a new Rev over the one it read, under the edits' lock. An edit that read the announcement
// scheduled and was written after this read was answered 2xx and shown to readers while the
// push carried the text before it. Now such an edit is either written before this read (the
// push carries it) or finds the Rev changed, reads again and is refused (see editOnce).
func (s *Service) readForPush(ctx context.Context, id string) (*Announcement, error) {
	unlock := s.DB.Lock("announce:" + id)
	defer unlock()
	for range maxEditAttempts {
		var cur Announcement
		if err := s.DB.Collection(announcementsColl).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&cur); err != nil {
			return nil, fmt.Errorf("publish announcement %s: %w", id, mongodb.Translate(err, "announcement"))
		}
		if cur.PublishAt.After(s.Now.Stored()) {
			return &cur, nil // postponed: nothing is pushed
		}
		switch err := s.saveEdit(ctx, id, cur.Rev, nil, nil); err {
		case nil:
			return &cur, nil
		case errChanged:
		default:
			return nil, fmt.Errorf("publish announcement %s: %w", id, err)
		}
	}
	return nil, fmt.Errorf("publish announcement %s: %w", id, errChanged)
}

// enqueue sends a's publication push and confirms it on the publish claim.
func (s *Service) enqueue(ctx context.Context, a *Announcement) error {
	if _, _, err := s.Push.Enqueue(ctx, notification(a, publishKey(a.ID), a.Audience.push())); err != nil {
		return fmt.Errorf("push announcement %s: %w", a.ID, err)
	}
	_, err := s.DB.Collection(publishColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: a.ID}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "enqueued_at", Value: s.Now.Stored()}}}})
	if err != nil {
		return fmt.Errorf("confirm push of announcement %s: %w", a.ID, mongodb.Translate(err, "announcement"))
	}
	return nil
}

// publishKey is the push key (and so the notification and inbox item id) of announcement id's
// publication; remindKey that of its n-th reminder.
func publishKey(id string) string { return "announcement:" + id + ":publish" }

func remindKey(id string, n int) string { return fmt.Sprintf("announcement:%s:remind:%d", id, n) }

// notification is the push of announcement a: its title and excerpt in both locales (ops write
// one language), opening the announcement in the app.
func notification(a *Announcement, key string, aud push.Audience) push.Notification {
	body := a.Excerpt
	if body == "" {
		body = a.Title
	}
	return push.Notification{
		Key:      key,
		Category: push.CategoryAnnouncement,
		Audience: aud,
		Title:    map[string]string{"zh-CN": a.Title, "en": a.Title},
		Body:     map[string]string{"zh-CN": body, "en": body},
		DeepLink: "mportal://announcements/" + a.ID,
		Data:     map[string]string{"announcement_id": a.ID},
	}
}

// exists turns a FindOne error into whether the document exists.
func exists(err error) (bool, error) {
	switch {
	case err == nil:
		return true, nil
	case mongodb.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("read announcement state: %w", mongodb.Translate(err, "announcement"))
}
