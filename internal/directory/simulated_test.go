package directory

import (
	"context"
	"testing"
	"time"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/testenv"
	"github.com/mportal/mportal/push"
)

func TestSeedSimulated(t *testing.T) {
	db := testenv.Mongo(t)
	ctx := context.Background()
	now := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	tokens, err := SeedSimulated(ctx, db, "sim", "Fanout", 2500, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 2500 || tokens[0] != "sim-0" || tokens[2499] != "sim-2499" {
		t.Fatalf("%d tokens, first %q", len(tokens), tokens[0])
	}
	t.Run("the seeded devices are the department's push recipients", func(t *testing.T) {
		r := &Recipients{DB: db, Now: func() time.Time { return now }}
		members, err := r.Members(ctx, push.Audience{Departments: []string{"Fanout"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(members) != 2500 {
			t.Fatalf("%d members", len(members))
		}
	})
	t.Run("seeding the same ids again is a conflict", func(t *testing.T) {
		if _, err := SeedSimulated(ctx, db, "sim", "Fanout", 10, now); !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("got %v", err)
		}
	})
}
