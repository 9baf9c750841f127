package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mportal/mportal/internal/chaos"
)

// requestTimeout is the load's client timeout: an answer slower than this counts as a hang. It is
// the deployment's own request bound: mportal's default MPORTAL_WRITE_TIMEOUT and HAProxy's
// "timeout server". Each database call waits at most 10 s (the driver's server selection
// timeout) before it answers unavailable; a request making several calls can take longer, which
// the outage rows show as their slowest request.
const requestTimeout = 30 * time.Second

// uploaders is how many devices upload photos with tus during the load.
const uploaders = 2

// rigResult is everything the run recorded, for the checker and the figures.
type rigResult struct {
	writes     *writes
	devices    []*device
	expected   []chaos.Expected
	deliveries []chaos.Delivery // of announcements
	// allDeliveries are every push the fake FCM accepted, read again at the end for doubles.
	allDeliveries []chaos.Delivery
	answers       []chaos.Answer
	killedAt      []time.Time // when each kill -9 was sent
	dbOutage      *chaos.Window
	minio         chaos.Window
	rolling       chaos.Window
	readyzDown    map[string][]int // outage -> the status each instance's /readyz answered in its middle (0: none)
	// loadStopped is when the load ended; deliveriesSettled how long after it every expected
	// push had arrived (or the wait for them gave up).
	loadStopped       time.Time
	deliveriesSettled time.Duration
	// creates are the keyed announcement requests; stored is the ops list at the end.
	creates []chaos.KeyedCreate
	stored  []chaos.StoredAnnouncement
	// fanouts are the announcements to every seeded device (c.fanoutTokens).
	fanouts      []fanout
	fanoutTokens []string
	seeding      time.Duration
	// uploads are the tus uploads the clients saw complete; readBack is what MinIO holds.
	uploads  *uploads
	readBack map[string]chaos.Upload
	// oaTasks are the tasks the fake OA sent, decisions what the devices saw decided, callbacks
	// what the fake OA received.
	oaTasks   []string
	decisions []chaos.Decision
	callbacks []chaos.Callback
	// remindTasks are the tasks sent on the flow with a reminder policy; reminders what the
	// fake FCM accepted of their reminders, checked against remindPolicy.
	remindTasks  []chaos.ReminderTask
	reminders    []chaos.Reminder
	remindPolicy chaos.ReminderPolicy
}

func rig(ctx context.Context, c *cluster, o options) (*rigResult, error) {
	cl := newClient(c.base, requestTimeout)
	res := &rigResult{writes: &writes{}, readyzDown: map[string][]int{}}
	setupCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	admin, err := signIn(setupCtx, cl, "admin", c.adminOTP, "chaos-admin")
	if err != nil {
		return nil, fmt.Errorf("admin sign-in: %w", err)
	}
	oa := startFakeOA()
	defer oa.srv.Close()
	if err := oa.register(setupCtx, cl, admin); err != nil {
		return nil, err
	}
	otp, err := createUser(setupCtx, cl, admin, "C0000", []string{"employee", "ops"})
	if err != nil {
		return nil, err
	}
	ops, err := signIn(setupCtx, cl, "C0000", otp, "C0000-laptop")
	if err != nil {
		return nil, err
	}
	if err := setReminderPolicy(setupCtx, cl, ops); err != nil {
		return nil, err
	}
	say("signing in %d users with two devices each", o.users)
	for u := 1; u <= o.users; u++ {
		user := "C" + strconv.Itoa(1000+u)
		otp, err := createUser(setupCtx, cl, admin, user, []string{"employee"})
		if err != nil {
			return nil, err
		}
		for _, letter := range []string{"a", "b"} {
			d := &device{user: user, id: user + "-" + letter, pushToken: "chaos-" + user + "-" + letter, mine: map[string]string{}}
			if letter == "a" {
				d.token, err = signIn(setupCtx, cl, user, otp, d.id)
			} else {
				d.token, err = logIn(setupCtx, cl, user, user+"-chaos-passphrase", d.id)
			}
			if err != nil {
				return nil, err
			}
			if err := d.checkIn(setupCtx, cl); err != nil {
				return nil, err
			}
			res.devices = append(res.devices, d)
		}
	}
	cl.mu.Lock()
	cl.answers = nil // the setup's answers are not part of the load
	cl.mu.Unlock()

	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, d := range res.devices {
		wg.Add(1)
		go func(d *device, seed uint64) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, 14))
			for loadCtx.Err() == nil {
				// a step runs to its acknowledgement even when the load ends meanwhile: a write
				// whose answer the device never saw is one the checker cannot judge
				if err := d.step(ctx, cl, rng, res.writes); err != nil {
					return
				}
				d.pull(loadCtx, cl)
				if rng.IntN(10) == 0 {
					cl.do(loadCtx, "PUT", "/v1/devices/"+d.id, d.token, map[string]any{
						"platform": "android", "model": "Pixel 8", "os_version": "15", "app_id": "com.example.portal",
						"app_version": "2.3.0", "build_number": 230, "channel": "stable", "locale": "en",
						"timezone": "Asia/Shanghai", "push_token": d.pushToken, "push_enabled": true,
					}, nil)
				}
				sleep(loadCtx, time.Duration(200+rng.IntN(400))*time.Millisecond)
			}
		}(d, uint64(i))
	}
	// A few devices upload photos with tus meanwhile, in small chunks, resuming after failures.
	res.uploads = &uploads{uploadIDs: map[string]string{}, owners: map[string]*device{}}
	for k := 0; k < min(uploaders, len(res.devices)); k++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uploadLoop(ctx, loadCtx, cl, res.devices[k], k, rand.New(rand.NewPCG(uint64(k), 13)), res.uploads, res.writes)
		}()
	}
	// The fake OA sends approval tasks to the users; both devices of each race to decide them.
	ds := &deciders{}
	wg.Add(1)
	go func() {
		defer wg.Done()
		approvalLoad(ctx, loadCtx, cl, oa, res.devices, ds, o.users)
	}()
	// Tasks on the flow with a reminder policy, whose reminders fall due during the faults.
	var remindTasks []chaos.ReminderTask
	wg.Add(1)
	go func() {
		defer wg.Done()
		remindTasks = reminderLoad(ctx, loadCtx, cl, oa, res.devices, o.users)
	}()
	// Announcements to the syncing devices every 8 s, each with an Idempotency-Key, every other
	// one scheduled 3 s ahead, one in three replayed on purpose.
	an := &announcer{cl: cl, ops: ops}
	var annMu sync.Mutex
	var announced []string
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 1; loadCtx.Err() == nil; n++ {
			var ahead time.Duration
			if n%2 == 0 {
				ahead = 3 * time.Second
			}
			title := "Chaos " + strconv.Itoa(n)
			id := an.publish(ctx, fmt.Sprintf("chaos-%d", n), title, map[string]any{"departments": []string{department}}, ahead, 1+n%3/2)
			if id != "" {
				annMu.Lock()
				announced = append(announced, id)
				annMu.Unlock()
			}
			sleep(loadCtx, 8*time.Second)
		}
	}()
	// Fan-outs to every seeded device, 15 s and 50 s into the load (during the kill -9 phase).
	var fanMu sync.Mutex
	watchCtx, stopWatching := context.WithCancel(ctx)
	defer stopWatching()
	res.fanoutTokens, res.seeding = c.fanoutTokens, c.seeding
	if len(c.fanoutTokens) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			for i, at := range []float64{15, 50} {
				sleep(loadCtx, time.Until(start.Add(time.Duration(at*o.scale*float64(time.Second)))))
				if loadCtx.Err() != nil {
					return
				}
				id := an.publish(ctx, fmt.Sprintf("fanout-%d", i+1), fmt.Sprintf("Fan-out %d", i+1),
					map[string]any{"departments": []string{fanoutDepartment}}, 0, 1)
				if id == "" {
					continue
				}
				acked := time.Now()
				fanMu.Lock()
				res.fanouts = append(res.fanouts, fanout{id: id})
				k := len(res.fanouts) - 1
				fanMu.Unlock()
				// Watched apart from the load's goroutines: the load's end does not wait for it.
				go func() {
					took := watchFanout(watchCtx, c, id, len(c.fanoutTokens), acked)
					fanMu.Lock()
					res.fanouts[k].took = took
					fanMu.Unlock()
				}()
			}
		}()
	}

	err = faults(ctx, c, o, res)
	stopLoad()
	res.loadStopped = time.Now()
	wg.Wait()
	res.creates = an.creates
	if err != nil {
		return nil, err
	}
	say("load stopped: %d sync writes acknowledged, %d announcements published", len(res.writes.all), len(announced))

	// Every device pulls until it has everything (a pull may be one page of several).
	finalCtx, cancelFinal := context.WithTimeout(ctx, 3*time.Minute+deliveryWait+2*time.Minute)
	defer cancelFinal()
	for _, d := range res.devices {
		for i := 0; i < 20; i++ {
			before := len(d.pulls)
			for d.pull(finalCtx, cl) != nil && finalCtx.Err() == nil {
				sleep(finalCtx, 300*time.Millisecond)
			}
			if len(d.pulls) == before || !changed(d.pulls[len(d.pulls)-1]) {
				break
			}
		}
	}
	for _, id := range announced {
		for _, d := range res.devices {
			res.expected = append(res.expected, chaos.Expected{Token: d.pushToken, Notification: id})
		}
	}
	var fanIDs []string
	for _, f := range res.fanouts {
		fanIDs = append(fanIDs, f.id)
	}
	// Deliveries lag the publish, and on a shared FerretDB a backlog builds during the load (every
	// audience read scans the users and devices, seeded fan-out devices included): wait until
	// every expected one arrived, or deliveryWait after the load stopped.
	deadline := res.loadStopped.Add(deliveryWait)
	for {
		res.deliveries = announcementDeliveries(c)
		if chaos.CheckPushAtLeastOnce(res.expected, res.deliveries).Pass &&
			(len(fanIDs) == 0 || chaos.CheckFanOut(fanIDs, res.fanoutTokens, res.deliveries).Pass) || time.Now().After(deadline) {
			res.deliveriesSettled = time.Since(res.loadStopped)
			break
		}
		sleep(finalCtx, time.Second)
	}
	stopWatching()
	fanMu.Lock()
	res.fanouts = append([]fanout(nil), res.fanouts...)
	fanMu.Unlock()
	if res.stored, err = storedAnnouncements(finalCtx, cl, ops); err != nil {
		return nil, err
	}
	res.readBack = readBack(finalCtx, cl, res.uploads)
	// Callbacks lag the decisions: wait until every decided task was called back or a minute passed.
	res.oaTasks, res.decisions = oa.tasks, ds.seen
	deadline = time.Now().Add(time.Minute)
	for {
		oa.mu.Lock()
		res.callbacks = append(res.callbacks[:0], oa.callbacks...)
		oa.mu.Unlock()
		if chaos.CheckCallbacks(res.decisions, res.callbacks).Pass || time.Now().After(deadline) {
			break
		}
		sleep(finalCtx, time.Second)
	}
	// Reminders fall due until the end: every one due remindGrace before the last look is owed.
	res.remindTasks = remindTasks
	deadline = time.Now().Add(30 * time.Second)
	for {
		res.remindPolicy = chaos.ReminderPolicy{Every: remindEvery, Max: remindMax, Grace: remindGrace, DueBy: time.Now(),
			Faults: res.reminderFaults()}
		res.reminders = reminderRecords(c, res.remindTasks, res.decisions)
		if chaos.CheckRemindersOnce(res.remindTasks, res.remindPolicy, res.reminders).Pass || time.Now().After(deadline) {
			break
		}
		sleep(finalCtx, time.Second)
	}
	// At most once is judged on what the fakes hold at the very end, a push lease and more after
	// the deliveries settled: a notification resent by an instance that took over a dead
	// sender's lease, or a callback or reminder sent twice, arrives after the loops above saw
	// every expected one.
	if wait := time.Until(res.loadStopped.Add(res.deliveriesSettled + lateDuplicates)); wait > 0 {
		say("waiting %s for late duplicates", wait.Round(time.Second))
		sleep(finalCtx, wait)
	}
	res.deliveries = announcementDeliveries(c)
	res.allDeliveries = allDeliveries(c)
	oa.mu.Lock()
	res.callbacks = append(res.callbacks[:0], oa.callbacks...)
	oa.mu.Unlock()
	res.reminders = reminderRecords(c, res.remindTasks, res.decisions)
	res.answers = cl.snapshot()
	return res, nil
}

// lateDuplicates is how long after the deliveries settled the checker reads the fakes again for
// doubles: the push outbox's lease (30 s), after which another instance takes a dead sender's
// work over, and a margin.
const lateDuplicates = 45 * time.Second

// announcementDeliveries are the fake FCM's messages of announcements (approval pushes carry
// none), for the at-least-once and fan-out checks.
func announcementDeliveries(c *cluster) []chaos.Delivery {
	var out []chaos.Delivery
	for _, m := range c.fcm.Messages() {
		if id := m.Data["announcement_id"]; id != "" {
			out = append(out, chaos.Delivery{Token: m.Token, Notification: id})
		}
	}
	return out
}

// allDeliveries are all the fake FCM's messages by the notification they carry (every push has
// its notification_id: announcements, approval tasks, reminders, withdrawals), for at most once.
func allDeliveries(c *cluster) []chaos.Delivery {
	var out []chaos.Delivery
	for _, m := range c.fcm.Messages() {
		out = append(out, chaos.Delivery{Token: m.Token, Notification: m.Data["notification_id"]})
	}
	return out
}

// deliveryWait bounds the wait for the pushes owed after the load stopped. Deliveries are owed at
// least once, not within a time; on the shared FerretDB, with two fan-outs to 10,000 devices
// during the faults, the last small notifications arrived 1 min 46 s to 3 min 37 s after the
// load stopped (internal/chaos/README.md, runs 10-15).
const deliveryWait = 5 * time.Minute

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// faults runs the fault schedule while the load runs: kill -9 of a random instance every 15 s
// for a minute (each restarted 5 s later), the database stopped 20 s, MinIO stopped 20 s, and a
// rolling restart (SIGTERM one by one, each back and ready before the next).
func faults(ctx context.Context, c *cluster, o options, res *rigResult) error {
	scaled := func(s float64) time.Duration { return time.Duration(s * o.scale * float64(time.Second)) }
	sleep(ctx, scaled(10))
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	end := time.Now().Add(scaled(60))
	for time.Now().Before(end) && ctx.Err() == nil {
		i := rng.IntN(len(c.instances))
		say("kill -9 %s", c.instances[i].name)
		res.killedAt = append(res.killedAt, time.Now())
		c.instances[i].kill(syscall.SIGKILL, time.Second)
		sleep(ctx, 5*time.Second)
		if err := c.startInstance(ctx, i); err != nil {
			return err
		}
		sleep(ctx, scaled(10))
	}
	if c.db != nil {
		say("stopping the database for 20 s")
		w := chaos.Window{Name: "database stopped 20s", Start: time.Now()}
		c.db.kill(syscall.SIGKILL, time.Second)
		sleep(ctx, 10*time.Second)
		res.readyzDown["database"] = c.probeReadyz()
		sleep(ctx, 10*time.Second)
		if err := c.db.start(); err != nil {
			return err
		}
		w.End = time.Now()
		res.dbOutage = &w
		sleep(ctx, scaled(15))
	}
	say("stopping MinIO for 20 s")
	res.minio = chaos.Window{Name: "MinIO stopped 20s", Start: time.Now()}
	c.minio.kill(syscall.SIGKILL, time.Second)
	sleep(ctx, 10*time.Second)
	res.readyzDown["minio"] = c.probeReadyz()
	sleep(ctx, 10*time.Second)
	if err := c.minio.start(); err != nil {
		return err
	}
	res.minio.End = time.Now()
	sleep(ctx, scaled(10))
	// A rolling restart starts from a deployment whose instances are all ready again.
	for i, p := range c.instances {
		if err := waitHTTP(ctx, p, "http://127.0.0.1:"+strconv.Itoa(c.ports[i])+"/readyz", 90*time.Second); err != nil {
			return err
		}
	}
	sleep(ctx, 2*time.Second) // HAProxy's rise: two checks 500 ms apart
	say("rolling restart")
	res.rolling = chaos.Window{Name: "rolling restart (SIGTERM one by one)", Start: time.Now()}
	for i, p := range c.instances {
		p.kill(syscall.SIGTERM, 40*time.Second) // the k8s grace period: the 30 s drain and a margin
		if err := c.startInstance(ctx, i); err != nil {
			return err
		}
		sleep(ctx, 2*time.Second) // HAProxy's rise: two checks 500 ms apart
	}
	res.rolling.End = time.Now()
	sleep(ctx, scaled(10))
	return ctx.Err()
}

// probeReadyz returns what each instance's /readyz answers, e.g. "503 503 503".
func (c *cluster) probeReadyz() []int {
	cl := &http.Client{Timeout: 5 * time.Second}
	out := make([]int, len(c.ports))
	for i, p := range c.ports {
		resp, err := cl.Get("http://127.0.0.1:" + strconv.Itoa(p) + "/readyz")
		if err != nil {
			continue // 0: no answer within 5 s
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		out[i] = resp.StatusCode
	}
	return out
}

// reminderFaults are the spans in which no instance could make its reminder pass: the database
// outage and the 30 s after it (the instances find the database again). A kill or a restart
// stops one instance of three, and MinIO is not on the reminders' path.
func (r *rigResult) reminderFaults() []chaos.Window {
	if r.dbOutage == nil {
		return nil
	}
	w := *r.dbOutage
	w.End = w.End.Add(30 * time.Second)
	return []chaos.Window{w}
}
