package chaos

import (
	"fmt"
	"slices"
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
// It reports the recovery time: from w.End to the first 2xx answer after it. Each route the
// outage made answer 503 must resume too (not only some other route): one asked again once the
// deployment recovered must answer other than 503, and not 503 again at its last answer in the
// window; the last route's recovery is reported.
func CheckOutage(w Window, answers []Answer, settle, timeout time.Duration) Guarantee {
	var v violations
	in, unavailable := 0, 0
	var recovered time.Time
	var slowest Answer
	// by route: whether it answered 503, and its answers in the window
	type route struct {
		unavailable bool
		answers     []Answer
	}
	routes := map[string]*route{}
	for _, a := range answers {
		if a.At.Before(w.Start) || a.At.After(w.End.Add(settle)) {
			continue
		}
		in++
		r := routes[a.Request]
		if r == nil {
			r = &route{}
			routes[a.Request] = r
		}
		r.unavailable = r.unavailable || a.Status == 503
		r.answers = append(r.answers, a)
		if a.Took > slowest.Took {
			slowest = a
		}
		// Recovery is timed to the first 2xx answer after the outage (not to its request's start:
		// one sent at once and answered 25 s later is no recovery at once).
		if end := a.At.Add(a.Took); !end.Before(w.End) && a.Status >= 200 && a.Status < 300 && (recovered.IsZero() || end.Before(recovered)) {
			recovered = end
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
	// A route the outage made answer 503 is judged on the requests it got once the deployment
	// as a whole had recovered (the database just started may still refuse a moment): it must
	// answer something other than 503 (a 2xx, or a 4xx: the request was handled), and its last
	// answer in the window must not be a 503 again.
	var last time.Time
	judged := 0
	for _, name := range sortedKeys(routes) {
		r := routes[name]
		if !r.unavailable || recovered.IsZero() {
			continue
		}
		var back time.Time
		var latest *Answer
		asked := false
		for i, a := range r.answers {
			end := a.At.Add(a.Took)
			if end.Before(recovered) {
				continue
			}
			asked = true
			if a.Status >= 200 && a.Status < 500 && (back.IsZero() || end.Before(back)) {
				back = end
			}
			// the last request sent once the deployment was back and answered within the window
			// (one answered after it may meet the next fault)
			if !a.At.Before(recovered) && !end.After(w.End.Add(settle)) && (latest == nil || a.At.After(latest.At)) {
				latest = &r.answers[i]
			}
		}
		switch {
		case !asked:
			continue // not asked again in time to judge
		case back.IsZero():
			v.addf("%s answered 503 in the outage and still did until %s after it", name, settle)
		case latest != nil && latest.Status == 503:
			v.addf("%s answered again after the outage, then 503 once more at +%s", name, latest.At.Sub(w.End).Round(time.Millisecond))
		case back.After(last):
			last = back
		}
		judged++
	}
	if !last.IsZero() {
		recovery += fmt.Sprintf(", every one of %d routes it made answer 503 %s after", judged, last.Sub(w.End).Round(100*time.Millisecond))
	}
	return Guarantee{
		Name: w.Name + ": 503 + Retry-After, no 500, no hang; resumes by itself",
		Pass: v.n == 0,
		Detail: v.detail(fmt.Sprintf("%d requests, %d answered 503, slowest %s %s; %s", in, unavailable,
			slowest.Request, slowest.Took.Round(100*time.Millisecond), recovery)),
	}
}

// CheckNoFailure checks that no request in w failed, including those in flight when it began:
// a rolling restart must be invisible.
func CheckNoFailure(w Window, answers []Answer) Guarantee {
	var v violations
	in := 0
	for _, a := range answers {
		if a.At.Add(a.Took).Before(w.Start) || a.At.After(w.End) {
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

// KillGrace is how long after a kill -9 a request may still be cut by it: in flight to the killed
// instance, or sent there before HAProxy's health checks took it out.
const KillGrace = 5 * time.Second

// CheckEveryAnswer checks every answer of the run, whatever the phase: only 2xx-4xx or 503 with
// Retry-After, never a 500 or another 5xx, never an answer slower than timeout, and no
// connection error (nor HAProxy's 502) except for a request that a kill -9 may have cut (one in
// flight at a kill or started within KillGrace after it). The outage and rolling-restart rows
// check their windows more strictly; this row covers the rest of the run (the load around the
// faults, the kill -9 phase, the checker's own reads).
func CheckEveryAnswer(answers []Answer, kills []time.Time, timeout time.Duration) Guarantee {
	var v violations
	cut := 0
	for _, a := range answers {
		killed := slices.ContainsFunc(kills, func(k time.Time) bool {
			return !a.At.After(k.Add(KillGrace)) && !a.At.Add(a.Took).Before(k)
		})
		switch {
		case a.Took >= timeout:
			v.addf("%s took %s (timeout %s) at %s", a.Request, a.Took.Round(time.Millisecond), timeout, a.At.Format(time.TimeOnly))
		case (a.Status == 0 || a.Status == 502) && killed:
			cut++
		case a.Status == 0:
			v.addf("%s: no answer at %s after %s", a.Request, a.At.Format(time.TimeOnly), a.Took.Round(time.Millisecond))
		case a.Status == 503 && !a.RetryAfter:
			v.addf("%s: 503 without Retry-After at %s", a.Request, a.At.Format(time.TimeOnly))
		case a.Status >= 500 && a.Status != 503:
			v.addf("%s: status %d at %s", a.Request, a.Status, a.At.Format(time.TimeOnly))
		}
	}
	return Guarantee{
		Name:   "every answer of the run: 2xx-4xx or 503 + Retry-After, none past the timeout",
		Pass:   v.n == 0,
		Detail: v.detail(fmt.Sprintf("%d answers, %d cut by a kill -9", len(answers), cut)),
	}
}

// CheckReadyzDown checks that every instance's /readyz answered a failure status (4xx or 5xx)
// while a dependency was down; statuses are the answers, 0 for none (which fails: HAProxy must be
// told, not left to time out).
func CheckReadyzDown(name string, statuses []int) Guarantee {
	var v violations
	for i, s := range statuses {
		if s < 400 {
			v.addf("instance %d answered %d", i+1, s)
		}
	}
	if len(statuses) == 0 {
		v.addf("no instance was asked")
	}
	return Guarantee{
		Name:   name + ": every instance's /readyz fails",
		Pass:   v.n == 0,
		Detail: v.detail(fmt.Sprintf("mid-outage /readyz: %v", statuses)),
	}
}
