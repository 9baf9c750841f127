package chaos

import "fmt"

// KeyedCreate is one announcement the load asked for with an Idempotency-Key, however often it
// sent the request (retries after errors, deliberate replays): the ids its 2xx answers carried
// and the 4xx statuses it got. Titles are unique per key, so the stored announcement is found
// by its title.
type KeyedCreate struct {
	Key, Title string
	IDs        []string // the id of every 2xx answer
	Rejected   []int    // every 4xx status (a 422 is a replay the server took for a new request)
	// Scheduled is true when the request set publish_at a few seconds ahead.
	Scheduled bool
}

// StoredAnnouncement is an announcement as the ops list shows it at the end of the run.
type StoredAnnouncement struct{ ID, Title, Status string }

// CheckOncePerKey checks that each Idempotency-Key made at most one announcement, exactly one
// when a request with it got a 2xx, and that every 2xx answer for it carried that one's id.
func CheckOncePerKey(creates []KeyedCreate, stored []StoredAnnouncement) Guarantee {
	byTitle := map[string][]StoredAnnouncement{}
	for _, s := range stored {
		byTitle[s.Title] = append(byTitle[s.Title], s)
	}
	var v violations
	requests, acked := 0, 0
	for _, c := range creates {
		requests += len(c.IDs) + len(c.Rejected)
		got := byTitle[c.Title]
		switch {
		case len(got) > 1:
			v.addf("key %s made %d announcements", c.Key, len(got))
		case len(got) == 0 && len(c.IDs) > 0:
			v.addf("key %s was answered 2xx (%s) but no announcement is stored", c.Key, c.IDs[0])
		}
		for _, st := range c.Rejected {
			v.addf("key %s: a request was answered %d", c.Key, st)
		}
		if len(c.IDs) > 0 {
			acked++
		}
		for _, id := range c.IDs {
			if len(got) == 1 && id != got[0].ID {
				v.addf("key %s: a 2xx answer carried %s, the stored announcement is %s", c.Key, id, got[0].ID)
			}
		}
	}
	return Guarantee{
		Name:   "each announcement Idempotency-Key made exactly one announcement; every replay got its id",
		Pass:   v.n == 0,
		Detail: v.detail(fmt.Sprintf("%d keys (%d acknowledged), %d requests with a key", len(creates), acked, requests)),
	}
}

// CheckScheduledOnce checks that every acknowledged announcement scheduled a few seconds ahead was
// published (once: CheckOncePerKey and the push rows show it was not published twice).
func CheckScheduledOnce(creates []KeyedCreate, stored []StoredAnnouncement) Guarantee {
	byTitle := map[string][]StoredAnnouncement{}
	for _, s := range stored {
		byTitle[s.Title] = append(byTitle[s.Title], s)
	}
	var v violations
	n := 0
	for _, c := range creates {
		if !c.Scheduled || len(c.IDs) == 0 {
			continue
		}
		n++
		got := byTitle[c.Title]
		switch {
		case len(got) != 1:
			v.addf("scheduled %s stored %d times", c.Key, len(got))
		case got[0].Status != "published":
			v.addf("scheduled %s is %s, not published", c.Key, got[0].Status)
		}
	}
	return Guarantee{
		Name:   "each scheduled announcement was published once",
		Pass:   v.n == 0 && n > 0,
		Detail: v.detail(fmt.Sprintf("%d scheduled a few seconds ahead, all published", n)),
	}
}

// CheckFanOut checks that every one of tokens got each of the fan-out notifications exactly
// once (the rig does not dead-letter: the fake FCM accepts every message).
func CheckFanOut(notifications, tokens []string, deliveries []Delivery) Guarantee {
	want := map[string]bool{}
	for _, id := range notifications {
		want[id] = true
	}
	count := map[Delivery]int{}
	for _, d := range deliveries {
		if want[d.Notification] {
			count[d]++
		}
	}
	var v violations
	for _, id := range notifications {
		for _, tok := range tokens {
			if n := count[Delivery{tok, id}]; n != 1 {
				v.addf("%s got %s %d times", tok, id, n)
			}
		}
	}
	return Guarantee{
		Name:   fmt.Sprintf("fan-out: each of %d devices got each fan-out notification exactly once", len(tokens)),
		Pass:   v.n == 0 && len(notifications) > 0,
		Detail: v.detail(fmt.Sprintf("%d notifications x %d devices", len(notifications), len(tokens))),
	}
}
