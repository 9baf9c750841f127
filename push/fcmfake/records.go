package fcmfake

import (
	"encoding/json"
	"hash/maphash"
	"sort"
	"sync"
)

// Received is one message the fake accepted.
type Received struct {
	// Seq numbers accepted messages from 1 in the order they were accepted.
	Seq int64
	// Name is the message name the fake answered with.
	Name  string
	Token string
	// Title and Body are the top-level notification's.
	Title, Body string
	Data        map[string]string
	// AnalyticsLabel is fcm_options.analytics_label.
	AnalyticsLabel string
	// Android is nil when the message had no Android config.
	Android *Android
	// APNS is nil when the message had no APNs config.
	APNS *APNS
	// Authorization is the request's Authorization header.
	Authorization string
}

// Android is the Android config of a received message.
type Android struct {
	CollapseKey string
	Priority    string // "high" | "normal"
	TTL         string // protobuf duration, e.g. "86400s"
	ChannelID   string
	// NotificationPriority is e.g. "PRIORITY_HIGH".
	NotificationPriority string
	Tag                  string
}

// APNS is the APNs config of a received message.
type APNS struct {
	Headers     map[string]string
	Title, Body string // aps.alert
	Sound       string
	Category    string // aps.category
	ThreadID    string // aps.thread-id
}

// wireRequest is the part of a messages:send request the fake reads.
type wireRequest struct {
	Message struct {
		Token        string            `json:"token"`
		Data         map[string]string `json:"data"`
		Notification *struct {
			Title string `json:"title"`
			Body  string `json:"body"`
		} `json:"notification"`
		FCMOptions *struct {
			AnalyticsLabel string `json:"analytics_label"`
		} `json:"fcm_options"`
		Android *struct {
			CollapseKey  string `json:"collapse_key"`
			Priority     string `json:"priority"`
			TTL          string `json:"ttl"`
			Notification *struct {
				ChannelID string `json:"channel_id"`
				Priority  string `json:"notification_priority"`
				Tag       string `json:"tag"`
			} `json:"notification"`
		} `json:"android"`
		APNS *struct {
			Headers map[string]string `json:"headers"`
			Payload *struct {
				Aps *struct {
					Alert    json.RawMessage `json:"alert"`
					Sound    string          `json:"sound"`
					Category string          `json:"category"`
					ThreadID string          `json:"thread-id"`
				} `json:"aps"`
			} `json:"payload"`
		} `json:"apns"`
	} `json:"message"`
}

// received converts the decoded request into a record.
func (w *wireRequest) received() Received {
	m := &w.Message
	r := Received{Token: m.Token, Data: m.Data}
	if n := m.Notification; n != nil {
		r.Title, r.Body = n.Title, n.Body
	}
	if o := m.FCMOptions; o != nil {
		r.AnalyticsLabel = o.AnalyticsLabel
	}
	if a := m.Android; a != nil {
		r.Android = &Android{CollapseKey: a.CollapseKey, Priority: a.Priority, TTL: a.TTL}
		if n := a.Notification; n != nil {
			r.Android.ChannelID, r.Android.NotificationPriority, r.Android.Tag = n.ChannelID, n.Priority, n.Tag
		}
	}
	if a := m.APNS; a != nil {
		r.APNS = &APNS{Headers: a.Headers}
		if a.Payload != nil && a.Payload.Aps != nil {
			aps := a.Payload.Aps
			r.APNS.Sound, r.APNS.Category, r.APNS.ThreadID = aps.Sound, aps.Category, aps.ThreadID
			var alert struct{ Title, Body string }
			if json.Unmarshal(aps.Alert, &alert) == nil {
				r.APNS.Title, r.APNS.Body = alert.Title, alert.Body
			}
		}
	}
	return r
}

// shardCount spreads tokens over independently locked shards so that
// concurrent requests rarely wait for each other.
const shardCount = 64

type shard struct {
	mu       sync.Mutex
	attempts map[string]int // requests per token, failed ones included
	accepted map[string]int // accepted messages per token
	msgs     []Received
}

// store holds everything the fake recorded.
type store struct {
	seed   maphash.Seed
	shards [shardCount]shard
}

func newStore() *store {
	s := &store{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].attempts = map[string]int{}
		s.shards[i].accepted = map[string]int{}
	}
	return s
}

func (s *store) shard(token string) *shard {
	return &s.shards[maphash.String(s.seed, token)%shardCount]
}

// all returns every accepted message ordered by Seq.
func (s *store) all() []Received {
	var out []Received
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		out = append(out, sh.msgs...)
		sh.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

func (s *store) reset() {
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		sh.attempts, sh.accepted, sh.msgs = map[string]int{}, map[string]int{}, nil
		sh.mu.Unlock()
	}
}
