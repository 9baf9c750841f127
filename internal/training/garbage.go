package training

import (
	"context"
	"fmt"
	"path"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/media"
)

// Objects are deleted through training_garbage documents: a replaced revision must outlive the
// playback URLs handed out for it (media.MaxPlaybackExpiry), and a deletion cut short by a
// crash must finish later. Each document lists the keys to delete, or the folder, and when;
// the workers' collector deletes them once that time has passed. Deleting is idempotent, so
// replicas collecting at the same time do no harm.
type garbageDoc struct {
	ID     string   `bson:"_id"`
	Bucket string   `bson:"bucket"`
	Keys   []string `bson:"keys"`
	// Folder, when set, is deleted whole: a job's outputs are all below its outputFolder, and
	// a worker that died while storing them (or a job superseded meanwhile) recorded none of
	// their keys. Documents written before it existed list the keys alone.
	Folder      string    `bson:"folder,omitempty"`
	DeleteAfter time.Time `bson:"delete_after"`
}

// outputFolder is the folder of the videos bucket that holds everything a job's transcode
// stores: one per job, so that a revision is deleted whole.
func outputFolder(j *jobDoc) string { return path.Join("training", j.VideoID, j.ID) }

// discardRevision schedules the deletion of a job's outputs (its whole folder, whatever it
// recorded) and source after the given time.
func (s *Service) discardRevision(ctx context.Context, job string, after time.Time) error {
	var j jobDoc
	err := s.coll(jobsColl).FindOne(ctx, bson.D{{Key: "_id", Value: job}}).Decode(&j)
	if mongodb.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read job %s: %w", job, mongodb.Translate(err, "job"))
	}
	_, err = mongodb.Claim(ctx, s.coll(garbageColl), "revision:"+job, bson.D{{Key: "bucket", Value: string(media.Videos)},
		{Key: "keys", Value: j.Keys}, {Key: "folder", Value: outputFolder(&j)}, {Key: "delete_after", Value: after}})
	if err != nil {
		return err
	}
	return s.discard(ctx, "source:"+job, j.SourceBucket, []string{j.SourceKey, j.SourceKey + ".info"}, after)
}

// discard records keys of bucket for deletion after the given time. A second call for the same
// id keeps the first (until it is collected).
func (s *Service) discard(ctx context.Context, id, bucket string, keys []string, after time.Time) error {
	if len(keys) == 0 {
		return nil
	}
	_, err := mongodb.Claim(ctx, s.coll(garbageColl), id, bson.D{{Key: "bucket", Value: bucket},
		{Key: "keys", Value: keys}, {Key: "delete_after", Value: after}})
	return err
}

// CollectGarbage deletes the objects whose time has come.
func (s *Service) CollectGarbage(ctx context.Context) error {
	cur, err := s.coll(garbageColl).Find(ctx, bson.D{{Key: "delete_after", Value: bson.D{{Key: "$lte", Value: s.Now.UTC()}}}})
	if err != nil {
		return fmt.Errorf("find garbage: %w", mongodb.Translate(err, "garbage"))
	}
	var docs []garbageDoc
	if err := cur.All(ctx, &docs); err != nil {
		return fmt.Errorf("find garbage: %w", mongodb.Translate(err, "garbage"))
	}
	for _, g := range docs {
		for _, k := range g.Keys {
			if err := s.Store.Delete(ctx, media.Bucket(g.Bucket), k); err != nil {
				return fmt.Errorf("delete %s/%s: %w", g.Bucket, k, err)
			}
		}
		if g.Folder != "" {
			if err := s.Store.DeleteFolder(ctx, media.Bucket(g.Bucket), g.Folder); err != nil {
				return fmt.Errorf("delete %s/%s/: %w", g.Bucket, g.Folder, err)
			}
		}
		if _, err := s.coll(garbageColl).DeleteOne(ctx, bson.D{{Key: "_id", Value: g.ID}}); err != nil {
			return fmt.Errorf("delete garbage %s: %w", g.ID, mongodb.Translate(err, "garbage"))
		}
	}
	return nil
}
