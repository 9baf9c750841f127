package chaos

import (
	"fmt"
	"time"
)

// Answer is one request the load made, as the client saw it.
type Answer struct {
	At         time.Time
	Status     int           // 0 when the request got no HTTP answer (connection error, timeout)
	RetryAfter bool          // whether a 503 carried Retry-After
	Took       time.Duration // until the answer or the error
	Request    string        // method and route, e.g. "GET /v1/sync/pull", to name it in violations
}

// Window is a fault's span: from the fault's start until its dependency was back.
type Window struct {
	Name       string
	Start, End time.Time
}

// CheckOutage checks the answers to requests started during w or within settle after it: only
// 2xx-4xx or 503 with Retry-After, never a 500 or another 5xx, never a connection error, never an
// answer slower than timeout.
// It reports the recovery time: from w.End to the start of the first 2xx request after it.
func CheckOutage(w Window, answers []Answer, settle, timeout time.Duration) Guarantee {
	var v violations
	in, unavailable := 0, 0
	var recovered time.Time
	var slowest Answer
	for _, a := range answers {
		if a.At.Before(w.Start) || a.At.After(w.End.Add(settle)) {
			continue
		}
		in++
		if a.Took > slowest.Took {
			slowest = a
		}
		if !a.At.Before(w.End) && a.Status >= 200 && a.Status < 300 && (recovered.IsZero() || a.At.Before(recovered)) {
			recovered = a.At
		}
		switch {
		case a.Took >= timeout:
			v.addf("%s took %s (timeout %s)", a.Request, a.Took.Round(time.Millisecond), timeout)
		case a.Status == 0:
			v.addf("%s: no answer at +%s after %s", a.Request, a.At.Sub(w.Start).Round(time.Millisecond), a.Took.Round(time.Millisecond))
		case a.Status == 503 && !a.RetryAfter:
			v.addf("%s: 503 without Retry-After at +%s", a.Request, a.At.Sub(w.Start).Round(time.Millisecond))
		case a.Status == 503:
			unavailable++
		case a.Status >= 500:
			v.addf("%s: status %d at +%s", a.Request, a.Status, a.At.Sub(w.Start).Round(time.Millisecond))
		}
	}
	recovery := "never recovered"
	if !recovered.IsZero() {
		recovery = "recovered " + recovered.Sub(w.End).Round(100*time.Millisecond).String() + " after"
	} else {
		v.addf("no 2xx within %s after the outage ended", settle)
	}
	return Guarantee{
		Name: w.Name + ": 503 + Retry-After, no 500, no hang; resumes by itself",
		Pass: v.n == 0,
		Detail: v.detail(fmt.Sprintf("%d requests, %d answered 503, slowest %s %s; %s", in, unavailable,
			slowest.Request, slowest.Took.Round(100*time.Millisecond), recovery)),
	}
}

// CheckNoFailure checks that no request in w failed: a rolling restart must be invisible.
func CheckNoFailure(w Window, answers []Answer) Guarantee {
	var v violations
	in := 0
	for _, a := range answers {
		if a.At.Before(w.Start) || a.At.After(w.End) {
			continue
		}
		in++
		if a.Status == 0 || a.Status >= 500 {
			v.addf("%s: status %d at +%s", a.Request, a.Status, a.At.Sub(w.Start).Round(time.Millisecond))
		}
	}
	return Guarantee{
		Name:   w.Name + ": no request failed",
		Pass:   v.n == 0,
		Detail: v.detail(fmt.Sprintf("%d requests, none failed", in)),
	}
}
