package release

import (
	"context"
	"math/rand/v2"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/mongodb"
)

// orphanAge is how old a seat without a member must be before it is reclaimed: a joiner writes
// its membership right after taking the seat, so a younger one may be in flight.
const orphanAge = time.Minute

// claimSeat takes the first free seat of a capped channel. Seats are documents "<app>/<channel>#n"
// for n in 1..cap, claimed by inserting them: the unique _id makes every seat go to exactly one
// joiner on MongoDB and on the embedded database alike, with no counter to lose updates. It
// returns conflict when every seat is taken.
func (s *Service) claimSeat(ctx context.Context, c *Channel, userID string) (int, error) {
	// A full channel is refused after one count instead of cap failed inserts. The count only
	// short-cuts: the seats alone decide.
	members, err := s.coll(membersColl).CountDocuments(ctx, bson.D{{Key: "app_id", Value: c.AppID}, {Key: "channel", Value: c.Name}})
	if err != nil {
		return 0, mongodb.Translate(err, "members")
	}
	if int(members) >= c.Cap {
		return 0, errFull(c)
	}
	// Probing from a random seat keeps concurrent joiners from all colliding on seat 1, 2, ...
	start := rand.IntN(c.Cap)
	for pass := 0; pass < 2; pass++ {
		for i := range c.Cap {
			n := (start+i)%c.Cap + 1
			won, err := mongodb.Claim(ctx, s.coll(seatsColl), seatID(c, n),
				bson.D{{Key: "user_id", Value: userID}, {Key: "at", Value: s.Now.Stored()}})
			if err != nil {
				return 0, err
			}
			if won {
				return n, nil
			}
		}
		if pass == 0 {
			if freed, err := s.reclaimOrphanSeats(ctx, c); err != nil || freed == 0 {
				break
			}
		}
	}
	return 0, errFull(c)
}

func errFull(c *Channel) error {
	return apperr.New(apperr.Conflict, "the %s channel is full (%d members)", c.Name, c.Cap)
}

// reclaimOrphanSeats frees seats whose holder has no membership (a crash between the two
// deletes of removeMember, or between the seat and the membership of addMember).
func (s *Service) reclaimOrphanSeats(ctx context.Context, c *Channel) (int, error) {
	type seat struct {
		ID     string    `bson:"_id"`
		UserID string    `bson:"user_id"`
		At     time.Time `bson:"at"`
	}
	freed := 0
	for n := 1; n <= c.Cap; n++ {
		st, err := findOne[seat](ctx, s.coll(seatsColl), seatID(c, n), "seat")
		if err != nil || s.Now.Stored().Sub(st.At) < orphanAge {
			continue
		}
		_, err = findOne[Member](ctx, s.coll(membersColl), MemberID(c.AppID, c.Name, st.UserID), "member")
		if apperr.Is(err, apperr.NotFound) {
			s.freeSeat(ctx, c, n, st.UserID)
			freed++
		}
	}
	return freed, nil
}

// freeSeat deletes seat n if userID still holds it.
func (s *Service) freeSeat(ctx context.Context, c *Channel, n int, userID string) {
	_, err := s.coll(seatsColl).DeleteOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: seatID(c, n)}, {Key: "user_id", Value: userID}})
	if err != nil {
		s.log().Warn("release: free seat", "channel", c.ID, "seat", n, "error", err.Error())
	}
}

func seatID(c *Channel, n int) string { return ChannelID(c.AppID, c.Name) + "#" + strconv.Itoa(n) }

// seatMembers gives a seat in 1..cap to every member of capped channel c who has none there:
// members who joined before the cap was set (seat 0) or whose seat is above a lowered cap. The
// seats alone bound joins, so without this, the joiners after a cap was set or lowered found
// free seats that existing members should have held, and the group passed the cap (3 members
// and a new cap of 5 let 5 concurrent joiners in). Members for whom no seat is left stay
// members (nobody is removed) and the channel counts as full until enough leave.
func (s *Service) seatMembers(ctx context.Context, c *Channel) error {
	members, err := mongodb.FindAll[Member](ctx, s.coll(membersColl), bson.D{{Key: "app_id", Value: c.AppID}, {Key: "channel", Value: c.Name}}, "members")
	if err != nil {
		return err
	}
	next := 1 // seats below it were found held: probing goes on from there
	for _, m := range members {
		if m.Seat >= 1 && m.Seat <= c.Cap {
			continue
		}
		n, err := s.firstFreeSeat(ctx, c, m.UserID, next)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil // every seat is held: the rest stay unseated members
		}
		next = n + 1
		if _, err := s.coll(membersColl).UpdateOne(ctx, bson.D{{Key: "_id", Value: m.ID}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "seat", Value: n}}}}); err != nil {
			s.freeSeat(ctx, c, n, m.UserID)
			return mongodb.Translate(err, "member")
		}
		if m.Seat > c.Cap {
			s.freeSeat(ctx, c, m.Seat, m.UserID)
		}
	}
	return nil
}

// firstFreeSeat claims the lowest free seat of c from seat from on for userID; 0 when every
// seat from there is held.
func (s *Service) firstFreeSeat(ctx context.Context, c *Channel, userID string, from int) (int, error) {
	for n := from; n <= c.Cap; n++ {
		won, err := mongodb.Claim(ctx, s.coll(seatsColl), seatID(c, n),
			bson.D{{Key: "user_id", Value: userID}, {Key: "at", Value: s.Now.Stored()}})
		if err != nil || won {
			return n, err
		}
	}
	return 0, nil
}
