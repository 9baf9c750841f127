package mongodb

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
)

// slowLog logs the commands that took longer than a threshold: the command, its collection and
// the shape of its filter and sort (field names, operators and value types, never a value: a
// filter holds user ids, tokens, names), so that what a slow load costs the database can be
// read off the instances' logs. FerretDB has no profiler; this is how the fault rig's stalls on
// a shared FerretDB were found (internal/chaos/README.md).
type slowLog struct {
	threshold time.Duration
	logger    *slog.Logger

	mu      sync.Mutex
	started map[gateKey]slowStart
}

type slowStart struct {
	name, coll string
	shape      string
}

func newSlowLog(threshold time.Duration, logger *slog.Logger) *slowLog {
	return &slowLog{threshold: threshold, logger: logger, started: map[gateKey]slowStart{}}
}

// monitor wraps next (nil for none) with the slow log.
func (s *slowLog) monitor(next *event.CommandMonitor) *event.CommandMonitor {
	return &event.CommandMonitor{
		Started: func(ctx context.Context, e *event.CommandStartedEvent) {
			if next != nil {
				next.Started(ctx, e)
			}
			s.start(e)
		},
		Succeeded: func(ctx context.Context, e *event.CommandSucceededEvent) {
			if next != nil {
				next.Succeeded(ctx, e)
			}
			s.end(gateKey{e.ConnectionID, e.RequestID}, e.Duration, "")
		},
		Failed: func(ctx context.Context, e *event.CommandFailedEvent) {
			if next != nil {
				next.Failed(ctx, e)
			}
			s.end(gateKey{e.ConnectionID, e.RequestID}, e.Duration, "failed")
		},
	}
}

func (s *slowLog) start(e *event.CommandStartedEvent) {
	st := slowStart{name: e.CommandName}
	if first, err := e.Command.IndexErr(0); err == nil {
		st.coll, _ = first.Value().StringValueOK() // find: "users", insert: "devices", ...
	}
	if e.CommandName == "getMore" {
		st.coll, _ = e.Command.Lookup("collection").StringValueOK()
	}
	var b strings.Builder
	for _, field := range []string{"filter", "q", "query", "sort"} {
		v, err := e.Command.LookupErr(field)
		if err != nil {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(field)
		b.WriteByte('=')
		writeShape(&b, v)
	}
	if v, err := e.Command.LookupErr("limit"); err == nil {
		if n, ok := v.AsInt64OK(); ok {
			b.WriteString(" limit=" + strconv.FormatInt(n, 10))
		}
	}
	st.shape = b.String()
	s.mu.Lock()
	s.started[gateKey{e.ConnectionID, e.RequestID}] = st
	s.mu.Unlock()
}

func (s *slowLog) end(k gateKey, took time.Duration, outcome string) {
	s.mu.Lock()
	st, ok := s.started[k]
	delete(s.started, k)
	s.mu.Unlock()
	if !ok || took < s.threshold {
		return
	}
	attrs := []any{"command", st.name, "collection", st.coll, "took", took.Round(time.Millisecond)}
	if st.shape != "" {
		attrs = append(attrs, "shape", st.shape)
	}
	if outcome != "" {
		attrs = append(attrs, "outcome", outcome)
	}
	s.logger.Warn("database: slow command", attrs...)
}

// writeShape writes v with every value replaced by its type: {user_id:{$in:array(3)}}.
func writeShape(b *strings.Builder, v bson.RawValue) {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		els, _ := v.Document().Elements()
		b.WriteByte('{')
		for i, el := range els {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(el.Key())
			b.WriteByte(':')
			writeShape(b, el.Value())
		}
		b.WriteByte('}')
	case bson.TypeArray:
		vals, _ := v.Array().Values()
		if len(vals) > 0 && vals[0].Type == bson.TypeEmbeddedDocument {
			b.WriteByte('[') // $or, $and: the shape of each clause
			for i, el := range vals {
				if i > 0 {
					b.WriteByte(',')
				}
				writeShape(b, el)
			}
			b.WriteByte(']')
			return
		}
		b.WriteString("array(" + strconv.Itoa(len(vals)) + ")")
	default:
		b.WriteString(v.Type.String())
	}
}
