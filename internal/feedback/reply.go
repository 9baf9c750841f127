package feedback

import (
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/push"
	datasync "github.com/mportal/mportal/sync"
)

// DeepLink is the app link that opens feedback id.
func DeepLink(id string) string { return "mportal://feedback/" + id }

// Reply adds an ops reply (a from_ops comment) to feedback id; the author sees it on the next
// pull and gets a feedback_reply push. It returns forbidden unless actor is ops or admin,
// not_found for an unknown or deleted id and invalid (field text) for bad text.
func (s *Service) Reply(ctx context.Context, actor *auth.Principal, id, text string) (*Comment, error) {
	if err := requireOps(actor); err != nil {
		return nil, err
	}
	text, err := checkText("text", text, MaxCommentRunes)
	if err != nil {
		return nil, err
	}
	parent, err := s.liveFeedback(ctx, id)
	if err != nil {
		return nil, err
	}
	name, err := s.authorName(ctx, actor.UserID)
	if err != nil {
		return nil, err
	}
	doc := &commentDoc{ID: newID(), FeedbackID: id, AuthorID: actor.UserID, AuthorName: name, FromOps: true,
		Text: text, CreatedAt: s.Now.Stored().UnixMilli()}
	err = s.Sync.Write(ctx, func(ctx context.Context, seq int64) ([]datasync.Touch, error) {
		doc.Meta = datasync.Meta{Seq: seq, CreatedSeq: seq, Keys: parent.Keys, UpdatedAt: s.Now.Stored()}
		unlock := s.DB.Lock(childLockKey(commentsColl, doc.ID))
		_, err := s.coll(commentsColl).InsertOne(ctx, doc)
		if mongodb.IsDuplicateKey(err) { // a rerun of this write: restamp it
			err = s.stamp(ctx, commentsColl, doc.ID, seq)
		} else if err != nil {
			err = fmt.Errorf("insert reply: %w", mongodb.Translate(err, "comment"))
		}
		unlock()
		if err != nil {
			return nil, err
		}
		s.counts.setComment(id, doc.ID, true)
		if _, err := s.stampFeedbackReplied(ctx, id, seq, true); err != nil {
			return nil, err
		}
		return []datasync.Touch{named(commentsColl, parent.Keys, doc.ID), named(feedbackColl, parent.Keys, id)}, nil
	})
	if err != nil {
		return nil, err
	}
	s.notify(ctx, push.Notification{
		Key:      "feedback_reply:" + doc.ID,
		Category: push.CategoryFeedbackReply,
		Audience: push.Audience{UserIDs: []string{parent.AuthorID}},
		Title:    map[string]string{"zh-CN": "您的反馈有新回复", "en": "New reply to your feedback"},
		Body:     map[string]string{"zh-CN": excerpt(text), "en": excerpt(text)},
		DeepLink: DeepLink(id),
		Data:     map[string]string{"feedback_id": id, "comment_id": doc.ID},
	})
	c := commentView(doc)
	return &c, nil
}

// statusLabels name the statuses in the notification of a status change.
var statusLabels = map[string][2]string{
	StatusNew:          {"新建", "new"},
	StatusAcknowledged: {"已确认", "acknowledged"},
	StatusInProgress:   {"处理中", "in progress"},
	StatusResolved:     {"已解决", "resolved"},
	StatusWontFix:      {"不予处理", "won't fix"},
	StatusDuplicate:    {"重复反馈", "duplicate"},
}

// notifyStatus tells the author about d's new status; the key carries the ops version, so each
// change notifies once.
func (s *Service) notifyStatus(ctx context.Context, d *feedbackDoc) {
	label := statusLabels[d.Status]
	s.notify(ctx, push.Notification{
		Key:      fmt.Sprintf("feedback_status:%s:%d", d.ID, d.OpsVersion),
		Category: push.CategoryFeedbackReply,
		Audience: push.Audience{UserIDs: []string{d.AuthorID}},
		Title:    map[string]string{"zh-CN": "您的反馈状态已更新", "en": "Your feedback was updated"},
		Body:     map[string]string{"zh-CN": "状态：" + label[0], "en": "Status: " + label[1]},
		DeepLink: DeepLink(d.ID),
		Data:     map[string]string{"feedback_id": d.ID, "status": d.Status},
	})
}

// notify enqueues n. The change it announces is already saved and reaches the app on the next
// pull anyway, so a failure is logged rather than failing the request (retrying it would
// repeat the change).
func (s *Service) notify(ctx context.Context, n push.Notification) {
	if s.Push == nil {
		return
	}
	if _, _, err := s.Push.Enqueue(context.WithoutCancel(ctx), n); err != nil {
		s.log().Warn("enqueue feedback notification", "key", n.Key, "error", err.Error())
	}
}

// excerpt shortens a reply for a notification body.
func excerpt(s string) string {
	const limit = 140
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:limit-1]) + "…"
}
