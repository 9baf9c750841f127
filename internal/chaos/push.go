package chaos

import "fmt"

// Delivery is one message the fake FCM accepted: the device token it went to and the
// notification it carried (the rig reads the notification's id from the message's data).
type Delivery struct{ Token, Notification string }

// Expected is one (device, notification) pair the server had to deliver. DeadLettered is true
// when the server gave up on it (the outbox dead-lettered it), which excuses a missing delivery
// but never a double one.
type Expected struct {
	Token, Notification string
	DeadLettered        bool
}

// CheckPushAtMostOnce checks that no device received one notification twice.
func CheckPushAtMostOnce(deliveries []Delivery) Guarantee {
	count := map[Delivery]int{}
	for _, d := range deliveries {
		count[d]++
	}
	var v violations
	for _, d := range deliveries {
		if n := count[d]; n > 1 {
			v.addf("%s got %s %d times", d.Token, d.Notification, n)
			count[d] = 0 // report each pair once
		}
	}
	return Guarantee{
		Name:   "each device got each notification at most once",
		Pass:   v.n == 0,
		Detail: v.detail(fmt.Sprintf("%d deliveries, none doubled", len(deliveries))),
	}
}

// CheckPushAtLeastOnce checks that every expected delivery arrived unless it was dead-lettered.
func CheckPushAtLeastOnce(expected []Expected, deliveries []Delivery) Guarantee {
	got := map[Delivery]bool{}
	for _, d := range deliveries {
		got[d] = true
	}
	var v violations
	dead := 0
	for _, e := range expected {
		if got[Delivery{e.Token, e.Notification}] {
			continue
		}
		if e.DeadLettered {
			dead++
			continue
		}
		v.addf("%s never got %s", e.Token, e.Notification)
	}
	return Guarantee{
		Name:   "each device got each notification at least once (unless dead-lettered)",
		Pass:   v.n == 0,
		Detail: v.detail(fmt.Sprintf("%d expected, %d dead-lettered", len(expected), dead)),
	}
}
