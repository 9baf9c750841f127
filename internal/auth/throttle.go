package auth

import (
	"container/list"
	"strings"
	"sync"
	"time"
)

// ThrottleConfig sets the login throttle. Zero fields take the defaults shown.
type ThrottleConfig struct {
	AccountFree int           // failures per account before back-off starts (5)
	IPFree      int           // failures per client IP before back-off starts (20)
	Base        time.Duration // the first lock-out (1s); each further failure doubles it
	Max         time.Duration // the longest lock-out (15m)
	Window      time.Duration // failures this old are forgotten (15m)
	MaxEntries  int           // accounts and IPs tracked at once (100 000); the oldest are evicted
	Now         func() time.Time
}

// Throttle slows down password guessing, per account and per client IP, with exponential
// back-off: the first AccountFree (IPFree) failures of a key cost nothing, then the n-th failure
// locks the key for Base·2^(n−free), at most Max. A key's record is forgotten once its last failure
// is Window old and its lock has run out; a successful login clears the account (not the IP, so
// one known password does not buy an attacker more guesses at other accounts). An account's
// attempts still being checked count as failures to come (Begin), so that a burst of concurrent
// guesses gets the free failures and then one guess per lock-out, as a sequence of guesses does.
//
// The state is in memory and per instance: with N replicas an attacker gets up to N times the
// attempts. That is deliberate. A shared counter would need an atomic increment, and the embedded
// FerretDB's updates are not atomic under concurrency, so a database counter would lose exactly the
// concurrent failures it exists to count. N is small, and the back-off still grows exponentially
// on every replica.
//
// Memory is bounded by MaxEntries: when full, the key whose last failure is oldest is evicted. A
// Throttle is safe for concurrent use.
type Throttle struct {
	cfg     ThrottleConfig
	mu      sync.Mutex
	entries map[string]*list.Element // of *throttleEntry
	order   *list.List               // least recently failed at the back
}

type throttleEntry struct {
	key         string
	failures    int
	pending     int // attempts begun (Begin) and not yet ended: counted as failures to come
	lastFailure time.Time
	lockedUntil time.Time
}

// NewThrottle returns a Throttle with cfg, filling in defaults for zero fields.
func NewThrottle(cfg ThrottleConfig) *Throttle {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.AccountFree, 5)
	def(&cfg.IPFree, 20)
	def(&cfg.MaxEntries, 100_000)
	defDur(&cfg.Base, time.Second)
	defDur(&cfg.Max, 15*time.Minute)
	defDur(&cfg.Window, 15*time.Minute)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Throttle{cfg: cfg, entries: make(map[string]*list.Element), order: list.New()}
}

// NormalizeAccount is the throttle key of a login name: trimmed and lower-cased, so "Alice " and
// "alice" share one budget.
func NormalizeAccount(login string) string { return strings.ToLower(strings.TrimSpace(login)) }

func accountKey(account string) string {
	if a := NormalizeAccount(account); a != "" {
		return "a:" + a
	}
	return ""
}

func ipKey(ip string) string {
	if ip != "" {
		return "i:" + ip
	}
	return ""
}

// Check reports whether a login attempt for account from ip may proceed, without starting one;
// when it may not, retryAfter says how long the caller must wait. Logins use Begin.
func (t *Throttle) Check(account, ip string) (retryAfter time.Duration, allowed bool) {
	return t.check(accountKey(account), ipKey(ip))
}

// Attempt is one password check that Begin let through. End it with Fail or Succeed; End alone
// (deferred) gives its place back when it ended neither way (an error before the password was
// checked). A nil *Attempt, which a nil Throttle gives, does nothing.
type Attempt struct {
	t       *Throttle
	key, ip string         // the account's (or user action's) key and the client's IP key
	entry   *throttleEntry // key's entry when the attempt began, holding its place
	ended   bool
}

// Begin starts a login attempt for account from ip, or refuses it as Check does. A begun attempt
// counts as a failure to come: once the account's free failures are spent, counting the attempts
// still being checked, its attempts run one at a time. Without that, a burst of concurrent
// guesses at one account all passed Check before the first of them failed (about 70 per lock-out
// as measured), where the back-off allows one. The IP's budget counts failures as they happen.
func (t *Throttle) Begin(account, ip string) (a *Attempt, retryAfter time.Duration, allowed bool) {
	return t.begin(accountKey(account), ipKey(ip))
}

// BeginUser is Begin for an action of a signed-in user (a password change), by user id, with the
// account budget.
func (t *Throttle) BeginUser(action, userID string) (a *Attempt, retryAfter time.Duration, allowed bool) {
	return t.begin(userKey(action, userID), "")
}

func (t *Throttle) begin(key, ip string) (*Attempt, time.Duration, bool) {
	if t == nil {
		return nil, 0, true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	var wait time.Duration
	for _, k := range []string{key, ip} {
		if e := t.lookup(k, now); e != nil && now.Before(e.lockedUntil) {
			wait = max(wait, e.lockedUntil.Sub(now))
		}
	}
	if wait > 0 {
		return nil, wait, false
	}
	e := t.lookup(key, now)
	if e != nil && e.pending > 0 && e.failures+e.pending >= t.cfg.AccountFree {
		// The attempts under way would lock the account if they failed: wait for them.
		return nil, t.cfg.Base, false
	}
	if e == nil {
		e = t.add(key, now)
	}
	e.pending++
	return &Attempt{t: t, key: key, ip: ip, entry: e}, 0, true
}

// Fail ends a with a failure (a wrong password), counted against its account and IP.
func (a *Attempt) Fail() {
	a.end(func(t *Throttle) {
		now := t.cfg.Now()
		t.fail(a.key, t.cfg.AccountFree, now)
		t.fail(a.ip, t.cfg.IPFree, now)
	})
}

// Succeed ends a with a success, which forgets its account's failures (not its IP's, so that
// one known password does not buy an attacker more guesses at other accounts).
func (a *Attempt) Succeed() {
	a.end(func(t *Throttle) {
		if el, ok := t.entries[a.key]; ok {
			t.remove(el)
		}
	})
}

// End gives a's place back if it ended neither way; deferred, it is a no-op after Fail or
// Succeed.
func (a *Attempt) End() {
	a.end(func(t *Throttle) {
		if el, ok := t.entries[a.key]; ok && el.Value == a.entry && a.entry.failures == 0 && a.entry.pending == 0 {
			t.remove(el)
		}
	})
}

// end runs fn under the throttle's lock for the first of Fail, Succeed and End to be called,
// after taking a off its entry's count; later calls do nothing. An Attempt is one goroutine's.
func (a *Attempt) end(fn func(t *Throttle)) {
	if a == nil || a.ended {
		return
	}
	a.t.mu.Lock()
	defer a.t.mu.Unlock()
	a.release()
	fn(a.t)
}

// release marks a ended and takes it off its entry's pending count (its entry may have been
// evicted meanwhile: then it counts nothing). t.mu is held.
func (a *Attempt) release() {
	a.ended = true
	if a.entry.pending > 0 {
		a.entry.pending--
	}
}

// userKey is the key of a signed-in user's action (a password change): "u:" keeps it apart from
// login names, which any client may send ("password-change:<id>" as a login locked the user's
// password change when the two shared the account keys).
func userKey(action, userID string) string { return "u:" + action + ":" + userID }

func (t *Throttle) check(keys ...string) (retryAfter time.Duration, allowed bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	for _, key := range keys {
		if e := t.lookup(key, now); e != nil && now.Before(e.lockedUntil) {
			retryAfter = max(retryAfter, e.lockedUntil.Sub(now))
		}
	}
	return retryAfter, retryAfter == 0
}

// Failure records a failed login for account from ip.
func (t *Throttle) Failure(account, ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.cfg.Now()
	t.fail(accountKey(account), t.cfg.AccountFree, now)
	t.fail(ipKey(ip), t.cfg.IPFree, now)
}

// Success forgets the failures of account after a successful login.
func (t *Throttle) Success(account string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.entries[accountKey(account)]; ok {
		t.remove(el)
	}
}

func (t *Throttle) fail(key string, free int, now time.Time) {
	if key == "" {
		return
	}
	e := t.lookup(key, now)
	if e == nil {
		e = t.add(key, now)
	} else {
		t.order.MoveToFront(t.entries[key])
	}
	e.failures++
	e.lastFailure = now
	if n := e.failures - free; n >= 0 {
		lock := t.cfg.Base
		for i := 0; i < n && lock < t.cfg.Max; i++ { // doubling step by step cannot overflow
			lock *= 2
		}
		e.lockedUntil = now.Add(min(lock, t.cfg.Max))
	}
}

// add makes key's entry, evicting another if the table is full.
func (t *Throttle) add(key string, now time.Time) *throttleEntry {
	t.evict(now)
	e := &throttleEntry{key: key}
	t.entries[key] = t.order.PushFront(e)
	return e
}

// lookup returns the live entry for key, dropping it if it has expired.
func (t *Throttle) lookup(key string, now time.Time) *throttleEntry {
	if key == "" {
		return nil
	}
	el, ok := t.entries[key]
	if !ok {
		return nil
	}
	e := el.Value.(*throttleEntry)
	if t.expired(e, now) {
		t.remove(el)
		return nil
	}
	return e
}

// expired reports whether e can be forgotten: nothing pending and a full Window since its last
// failure and since its lock ended. Counting the window from the lock's end too keeps the
// count escalating: when the lock reached Max (= Window), counting from the last failure
// forgot the entry the moment its lock ended, and the next burst started free again.
func (t *Throttle) expired(e *throttleEntry, now time.Time) bool {
	last := e.lastFailure
	if e.lockedUntil.After(last) {
		last = e.lockedUntil
	}
	return e.pending == 0 && now.Sub(last) >= t.cfg.Window
}

// evict makes room for one entry: expired entries go first (they collect at the back), then, if
// the table is still full, the least recently failed key.
func (t *Throttle) evict(now time.Time) {
	for back := t.order.Back(); back != nil && t.expired(back.Value.(*throttleEntry), now); back = t.order.Back() {
		t.remove(back)
	}
	for t.order.Len() >= t.cfg.MaxEntries {
		t.remove(t.order.Back())
	}
}

func (t *Throttle) remove(el *list.Element) {
	delete(t.entries, el.Value.(*throttleEntry).key)
	t.order.Remove(el)
}

// Len returns the number of accounts and IPs currently tracked.
func (t *Throttle) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.order.Len()
}
