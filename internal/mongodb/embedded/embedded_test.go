package embedded_test

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/mongodb"
	"github.com/mportal/mportal/internal/mongodb/embedded"
)

func TestStartServesTheDriverAndKeepsDataAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	srv, err := embedded.Start(dir, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := mongodb.Open(ctx, srv.URI(), "mportal", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("c").InsertOne(ctx, bson.D{{Key: "_id", Value: "kept"}}); err != nil {
		t.Fatal(err)
	}
	_ = db.Close(ctx)
	srv.Stop()

	srv, err = embedded.Start(dir, "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	db, err = mongodb.Open(ctx, srv.URI(), "mportal", true)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	if err := db.Collection("c").FindOne(ctx, bson.D{{Key: "_id", Value: "kept"}}).Err(); err != nil {
		t.Fatalf("document lost across restart: %v", err)
	}
}
