package mongodb_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/testenv"
)

// TestSlowCommandLog: with MPORTAL_DB_SLOW_COMMAND set, a command that took at least that long
// is logged with its collection and its filter's shape, never a value from it; without it
// nothing is logged.
func TestSlowCommandLog(t *testing.T) {
	ctx := context.Background()
	open := func(o mongodb.Options) *mongodb.DB {
		t.Helper()
		db, err := mongodb.OpenWith(ctx, testenv.MongoURI(t), testenv.RandomName("t_"), true, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = db.DB.Drop(context.Background())
			_ = db.Close(context.Background())
		})
		return db
	}
	query := func(db *mongodb.DB) {
		t.Helper()
		if _, err := db.Collection("people").InsertOne(ctx, bson.D{{Key: "_id", Value: "u1"}, {Key: "token", Value: "secret-token-1"}}); err != nil {
			t.Fatal(err)
		}
		filter := bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: "token", Value: "secret-token-1"}},
			bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: bson.A{"u1", "u2"}}}}},
		}}}
		if err := db.Collection("people").FindOne(ctx, filter).Err(); err != nil {
			t.Fatal(err)
		}
	}

	var logged testenv.LogBuffer
	logger := slog.New(slog.NewTextHandler(&logged, nil))
	query(open(mongodb.Options{SlowCommand: 1, Logger: logger})) // 1 ns: every command is slow
	out := logged.String()
	for _, want := range []string{
		`msg="database: slow command" command=insert collection=people`,
		`command=find collection=people`,
		`shape="filter={$or:[{token:string},{_id:{$in:array(2)}}]} limit=1"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the slow log lacks %s:\n%s", want, out)
		}
	}
	for _, secret := range []string{"secret-token-1", "u1", "u2"} {
		if strings.Contains(out, secret) {
			t.Errorf("the slow log shows the value %q:\n%s", secret, out)
		}
	}

	var quiet testenv.LogBuffer
	query(open(mongodb.Options{Logger: slog.New(slog.NewTextHandler(&quiet, nil))}))
	if quiet.String() != "" {
		t.Errorf("logged with MPORTAL_DB_SLOW_COMMAND unset:\n%s", quiet.String())
	}
}
