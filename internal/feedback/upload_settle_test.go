package feedback

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/internal/upload"
)

// An upload with nowhere to go is refused (invalid), so that the upload service deletes its
// object instead of trying to complete it on every cleanup pass: before, one whose attachment
// was deleted stayed "finished" for good (enough of them filled every pass), and a second upload
// of one attachment was accepted and its object kept, referenced by nothing.
func TestUploadsWithNowhereToGoAreRefused(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	photo := pngBytes(t)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("fb", "see photos")}}}), 1)
	var atts []any
	for _, id := range []string{"b1", "b2", "b3"} {
		atts = append(atts, with(attachment(id, "fb"), "size", len(photo)))
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: atts}}), 3)

	t.Run("a second upload of a completed attachment", func(t *testing.T) {
		first, second := uploaded(t, store, "b1", photo), uploaded(t, store, "b1", photo)
		for range 2 { // the same upload again (the cleanup pass after a crash): still fine
			if err := f.svc.CompleteUpload(ctx, alice, first); err != nil {
				t.Fatal(err)
			}
		}
		if err := f.svc.CompleteUpload(ctx, alice, second); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("second upload: %v, want invalid", err)
		}
		u, _, err := f.svc.AttachmentURL(ctx, alice, "b1")
		if err != nil || !strings.Contains(u.String(), first.Key) {
			t.Fatalf("URL %v (%v), want the first upload's", u, err)
		}
	})
	t.Run("an upload of an attachment deleted meanwhile", func(t *testing.T) {
		in := uploaded(t, store, "b2", photo)
		wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Deleted: []string{"b2"}}}), 1)
		if err := f.svc.CompleteUpload(ctx, alice, in); !apperr.Is(err, apperr.Invalid) {
			t.Fatalf("upload of a deleted attachment: %v, want invalid", err)
		}
	})
	t.Run("an upload that read the attachment before its deletion", func(t *testing.T) {
		var a attachmentDoc
		if err := f.svc.findByID(ctx, attachmentsColl, "b2", "attachment", &a); err != nil {
			t.Fatal(err)
		}
		a.Deleted = false // as read before the delete
		err := f.svc.settleAttachment(ctx, &a, AttachmentComplete, bson.D{{Key: "object_key", Value: "tus/late"}})
		if err != errSettled {
			t.Fatalf("settling a deleted attachment: %v, want errSettled", err)
		}
		if err := f.svc.findByID(ctx, attachmentsColl, "b2", "attachment", &a); err != nil || a.ObjectKey != "" {
			t.Fatalf("the deleted attachment links %q (%v)", a.ObjectKey, err)
		}
	})
	t.Run("two uploads of one attachment at once", func(t *testing.T) {
		ins := []upload.Info{uploaded(t, store, "b3", photo), uploaded(t, store, "b3", photo)}
		errs := make([]error, len(ins))
		var wg sync.WaitGroup
		for i := range ins {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = f.svc.CompleteUpload(ctx, alice, ins[i])
			}()
		}
		wg.Wait()
		won := -1
		for i, err := range errs {
			switch {
			case err == nil && won == -1:
				won = i
			case !apperr.Is(err, apperr.Invalid):
				t.Fatalf("upload %d: %v, want one to win and the other refused", i, err)
			}
		}
		u, _, err := f.svc.AttachmentURL(ctx, alice, "b3")
		if won == -1 || err != nil || !strings.Contains(u.String(), ins[won].Key) {
			t.Fatalf("URL %v (%v), want the winner's (%d)", u, err, won)
		}
	})
}

// Deleting feedback deletes its photos' objects too, as deleting an attachment does: nothing
// refers to them once the tombstones are purged.
func TestDeletingFeedbackDeletesItsPhotos(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	photo := pngBytes(t)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("gone", "oops")}}}), 1)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
		with(attachment("p1", "gone"), "size", len(photo))}}}), 1)
	in := uploaded(t, store, "p1", photo)
	// tusd's bookkeeping beside the upload: the file name, the user, the attachment id.
	info := []byte(`{"MetaData":{"filename":"receipt.png","user_id":"alice","attachment_id":"p1"}}`)
	if _, err := store.Put(ctx, in.Bucket, in.Key+".info", bytes.NewReader(info), int64(len(info)), ""); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CompleteUpload(ctx, alice, in); err != nil {
		t.Fatal(err)
	}
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Deleted: []string{"gone"}}}), 1)
	for _, key := range []string{in.Key, in.Key + ".info"} {
		if _, err := store.Stat(ctx, in.Bucket, key); !apperr.Is(err, apperr.NotFound) {
			t.Errorf("%s of the deleted feedback's photo is still stored: %v", key, err)
		}
	}
}

// A delete that read the feedback as new while ops triaged it (another instance, or MongoDB
// where DB.Lock spans one process) is refused: before, the record stayed, triaged, while its
// comments (ops' replies) and photos were deleted and the app was told the delete succeeded.
func TestADeleteRacingTriageIsRefused(t *testing.T) {
	// The in-memory copy (Embedded) gives the stale read; conditions are sent with the write,
	// as on MongoDB (FerretDB's writes drop them: there the lock rules the race out).
	shared := testenv.Mongo(t)
	f := newFixtureOn(t, &mongodb.DB{Client: shared.Client, DB: shared.DB, Embedded: true}, nil)
	ctx := context.Background()
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("tri", "broken")}}}), 1)
	wantAccepted(t, f.push(alice, map[string]changes{
		"feedback_comments": {Created: []any{map[string]any{"id": "k1", "feedback_id": "tri", "text": "more", "created_at": clientTime}}},
	}), 1)
	// Triaged behind this instance's back: its in-memory copy still says new.
	if _, err := f.svc.coll(feedbackColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: "tri"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "status", Value: StatusAcknowledged}}}}); err != nil {
		t.Fatal(err)
	}
	wantRejected(t, f.push(alice, map[string]changes{"feedback": {Deleted: []string{"tri"}}}), "tri", apperr.Conflict)
	var c struct {
		Deleted bool `bson:"_deleted"`
	}
	if err := f.svc.coll(commentsColl).FindOne(ctx, bson.D{{Key: "_id", Value: "k1"}}).Decode(&c); err != nil || c.Deleted {
		t.Fatalf("the comment of the refused delete: deleted=%v (%v)", c.Deleted, err)
	}
}

// A filename the photo's download would refuse is refused when the attachment is pushed; one
// stored before that check is downloaded under the attachment's id.
func TestAttachmentFilenamesAreDownloadNames(t *testing.T) {
	store := newStore(t)
	f := newFixture(t, store)
	ctx := context.Background()
	wantAccepted(t, f.push(alice, map[string]changes{"feedback": {Created: []any{newRecord("names", "photos")}}}), 1)
	long := strings.Repeat("照", 86) + ".png" // 262 bytes, 90 characters
	res := f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
		with(attachment("n1", "names"), "filename", long),
		with(attachment("n2", "names"), "filename", "IMG\t1.png"),
		with(attachment("n3", "names"), "filename", "..."),
	}}})
	for _, id := range []string{"n1", "n2", "n3"} {
		wantRejected(t, res, id, apperr.Invalid)
	}
	photo := pngBytes(t)
	wantAccepted(t, f.push(alice, map[string]changes{"feedback_attachments": {Created: []any{
		with(attachment("n4", "names"), "size", len(photo))}}}), 1)
	if _, err := f.svc.coll(attachmentsColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: "n4"}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "filename", Value: long}}}}); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.CompleteUpload(ctx, alice, uploaded(t, store, "n4", photo)); err != nil {
		t.Fatal(err)
	}
	u, _, err := f.svc.AttachmentURL(ctx, alice, "n4")
	if err != nil || !strings.Contains(u.RawQuery, "n4.png") {
		t.Fatalf("URL %v (%v), want the download named n4.png", u, err)
	}
}
