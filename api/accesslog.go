package api

import (
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/mportal/mportal/internal/jsonenc"
)

// accessLine is one access log line's fields.
type accessLine struct {
	at                             time.Time
	requestID, method, route, path string
	ip                             netip.Addr // the peer's (or the client's, behind trusted proxies)
	userID                         string     // empty: not signed in
	status, bytes                  int
	elapsed                        time.Duration
}

// appendAccessLine appends l as one JSON line in the shape of the Logger's (slog's JSON
// handler's) own lines: time, level, msg, then the fields. Encoding it by hand costs a fraction
// of what building and handling a slog.Record does, and every request pays it (issue #14 B).
func appendAccessLine(b []byte, l accessLine) []byte {
	b = append(b, `{"time":"`...)
	b = appendLogTime(b, l.at)
	b = append(b, `","level":"INFO","msg":"request","request_id":`...)
	b = jsonenc.AppendString(b, l.requestID)
	b = append(b, `,"method":`...)
	b = jsonenc.AppendString(b, l.method)
	b = append(b, `,"route":`...)
	b = jsonenc.AppendString(b, l.route)
	b = append(b, `,"path":`...)
	b = jsonenc.AppendString(b, l.path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(l.status), 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, l.elapsed)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(l.bytes), 10)
	b = append(b, `,"ip":"`...)
	if l.ip.IsValid() { // an address's text needs no JSON escaping
		b = l.ip.Unmap().AppendTo(b)
	}
	b = append(b, '"')
	if l.userID != "" {
		b = append(b, `,"user_id":`...)
		b = jsonenc.AppendString(b, l.userID)
	}
	return append(b, "}\n"...)
}

// appendMillis appends d in milliseconds to the microsecond, as
// strconv.AppendFloat(float64(d.Microseconds())/1000, 'f', -1, 64) does (the number slog's
// Float64 writes), with integer arithmetic: the float's shortest form cost about 0.7% of the
// update check's CPU as deployed.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b = append(b, '-')
		us = -us // a Duration's microseconds never reach the int64 minimum
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	b = append(b, '.', byte('0'+frac/100))
	if frac %= 100; frac != 0 {
		b = append(b, byte('0'+frac/10))
		if frac %= 10; frac != 0 {
			b = append(b, byte('0'+frac))
		}
	}
	return b
}

// logSecond is one second's formatted time, up to the seconds and the zone: every line of that
// second shares it, and only the milliseconds are formatted per line.
type logSecond struct {
	unix         int64
	loc          *time.Location
	prefix, zone string // "2006-01-02T15:04:05" and "Z07:00"
}

var lastLogSecond atomic.Pointer[logSecond]

// appendLogTime appends t as the Logger formats it (2006-01-02T15:04:05.000Z07:00). time's
// AppendFormat cost about 2% of the update check's CPU; a zone's offset changes only on a whole
// second, so the second's text can be reused.
func appendLogTime(b []byte, t time.Time) []byte {
	sec := lastLogSecond.Load()
	if sec == nil || sec.unix != t.Unix() || sec.loc != t.Location() {
		sec = &logSecond{unix: t.Unix(), loc: t.Location(),
			prefix: t.Format("2006-01-02T15:04:05"), zone: t.Format("Z07:00")}
		lastLogSecond.Store(sec)
	}
	b = append(b, sec.prefix...)
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	return append(b, sec.zone...)
}
