package api

import (
	"bytes"
	"encoding/json"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAccessLineIsOneJSONObjectWhateverThePath(t *testing.T) {
	paths := []string{
		"/v1/apps/bench/update",
		"/v1/\"quoted\"/back\\slash",
		"/v1/ctl\x00\x01\n\r\t/x",
		"/v1/\xff\xfe/invalid-utf8",
		"/v1/审批/中文",
	}
	for _, path := range paths {
		var out bytes.Buffer
		at := time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.UTC)
		out.Write(appendAccessLine(nil, accessLine{at: at, requestID: "r1", method: "GET", route: "/v1/apps/:app_id/update",
			path: path, ip: netip.MustParseAddr("127.0.0.1"), userID: "u1", status: 200, bytes: 42, elapsed: 1234567 * time.Nanosecond}))
		line := out.Bytes()
		if bytes.Count(line, []byte("\n")) != 1 || line[len(line)-1] != '\n' {
			t.Fatalf("path %q: not one line: %q", path, line)
		}
		var got map[string]any
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("path %q: %v: %s", path, err, line)
		}
		want := map[string]any{"time": "2031-05-06T07:08:09.123Z", "level": "INFO", "msg": "request", "request_id": "r1",
			"method": "GET", "route": "/v1/apps/:app_id/update", "status": 200.0, "duration_ms": 1.234, "bytes": 42.0,
			"ip": "127.0.0.1", "user_id": "u1"}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("path %q: %s = %v, want %v", path, k, got[k], v)
			}
		}
		var wantPath strings.Builder
		for _, r := range path { // one U+FFFD per invalid byte, as the encoder writes
			wantPath.WriteRune(r)
		}
		if got["path"] != wantPath.String() {
			t.Errorf("path = %q, want %q", got["path"], wantPath.String())
		}
	}
}

// The peer's address is written as net.IP's String writes it (c.IP(), which the line used to
// take), in both of net.IP's forms of an IPv4 address (fasthttp's RemoteIP gives either).
func TestAccessLineIPIsAsStringWritesIt(t *testing.T) {
	for _, ip := range []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("192.168.10.7").To4(),
		net.ParseIP("::1"), net.ParseIP("2001:db8::8a2e:370:7334"), net.ParseIP("::ffff:10.0.0.1"), net.ParseIP("fe80::1")} {
		var out bytes.Buffer
		addr, _ := netip.AddrFromSlice(ip)
		out.Write(appendAccessLine(nil, accessLine{at: time.Unix(0, 0), ip: addr}))
		var got struct{ IP string }
		if err := json.Unmarshal(out.Bytes(), &got); err != nil {
			t.Fatalf("%v: %v: %s", ip, err, out.Bytes())
		}
		if got.IP != ip.String() {
			t.Errorf("ip %q, want %q", got.IP, ip.String())
		}
	}
}

func TestAccessLineTimeIsTheLoggersFormat(t *testing.T) {
	paris := time.FixedZone("CEST", 2*3600)
	times := []time.Time{
		time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC),
		time.Date(2031, 5, 6, 7, 8, 9, 999999999, time.UTC),
		time.Date(2031, 5, 6, 7, 8, 9, 5000000, time.UTC),
		time.Date(2031, 5, 6, 7, 8, 10, 40000000, time.UTC),
		time.Date(2031, 5, 6, 7, 8, 10, 40000000, time.UTC).In(paris), // same second, another zone
		time.Date(2031, 3, 30, 1, 59, 59, 999000000, time.UTC).In(paris),
		time.Date(2031, 3, 30, 2, 0, 0, 1000000, time.UTC).In(paris),
		time.Date(2031, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", -(3*3600+30*60))),
	}
	for _, at := range times {
		for range 2 { // the second time from the cached second
			want := at.Format("2006-01-02T15:04:05.000Z07:00")
			if got := string(appendLogTime(nil, at)); got != want {
				t.Errorf("appendLogTime(%v) = %s, want %s", at, got, want)
			}
		}
	}
}

// TestAppendMillisIsAppendFloats: the access line's duration has the digits slog's Float64
// would write for the same milliseconds.
func TestAppendMillisIsAppendFloats(t *testing.T) {
	check := func(us int64) {
		t.Helper()
		d := time.Duration(us) * time.Microsecond
		want := strconv.AppendFloat(nil, float64(d.Microseconds())/1000, 'f', -1, 64)
		if got := appendMillis(nil, d); string(got) != string(want) {
			t.Fatalf("%d µs: %q, want %q", us, got, want)
		}
	}
	for us := int64(-2100); us <= 120_000; us++ {
		check(us)
	}
	for _, us := range []int64{999_999, 1_000_000, 1_000_001, 3_600_000_000, 86_400_000_123, 9_007_199_254_740} {
		check(us)
		check(-us)
	}
	if got := appendMillis(nil, 1500*time.Nanosecond); string(got) != "0.001" { // below a microsecond: dropped, as Microseconds does
		t.Fatalf("1.5 µs: %q", got)
	}
}
