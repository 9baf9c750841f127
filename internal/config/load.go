package config

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// loader reads variables and collects every problem, so one start-up lists them all.
type loader struct {
	getenv Getenv
	errs   []error
}

func (l *loader) fail(key, expects string) {
	l.errs = append(l.errs, fmt.Errorf("%s %s", key, expects))
}

func (l *loader) str(key, def string) string {
	if v, ok := l.getenv(key); ok && strings.TrimSpace(v) != "" {
		return strings.TrimSpace(v)
	}
	return def
}

func (l *loader) list(key string) []string {
	var out []string
	for _, p := range strings.Split(l.str(key, ""), ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (l *loader) duration(key string, def time.Duration) time.Duration {
	v := l.str(key, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		l.fail(key, "expects a duration like 30s, 15m or 720h")
		return def
	}
	return d
}

// offsets parses a comma-separated list of signed durations in increasing order ("-48h,72h");
// "none" is the empty list.
func (l *loader) offsets(key string, def []time.Duration) []time.Duration {
	v := l.list(key)
	if len(v) == 0 {
		return def
	}
	if len(v) == 1 && v[0] == "none" {
		return []time.Duration{}
	}
	out := make([]time.Duration, 0, len(v))
	for _, p := range v {
		d, err := time.ParseDuration(p)
		if err != nil || (len(out) > 0 && d <= out[len(out)-1]) {
			l.fail(key, "expects increasing durations from the due time like -48h,-8h,72h (negative: before), or none")
			return def
		}
		out = append(out, d)
	}
	return out
}

// integer parses a whole number between lo and hi.
func (l *loader) integer(key string, def, lo, hi int) int {
	v := l.str(key, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		l.fail(key, fmt.Sprintf("expects a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

func (l *loader) boolean(key string, def bool) bool {
	v := l.str(key, "")
	if v == "" {
		return def
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		l.fail(key, "expects true or false")
		return def
	}
	return b
}

func (l *loader) level(key string, def slog.Level) slog.Level {
	v := l.str(key, "")
	if v == "" {
		return def
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(v)); err != nil {
		l.fail(key, "expects debug, info, warn or error")
		return def
	}
	return lv
}

// bytes parses a size such as 1048576, 512KiB or 8MiB.
func (l *loader) bytes(key string, def int) int {
	v := l.str(key, "")
	if v == "" {
		return def
	}
	mult := 1
	for _, u := range []struct {
		suffix string
		mult   int
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}} {
		if strings.HasSuffix(v, u.suffix) {
			v, mult = strings.TrimSuffix(v, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n <= 0 || n > (1<<31)/mult {
		l.fail(key, "expects a size in bytes such as 1048576, 512KiB or 8MiB")
		return def
	}
	return n * mult
}

// prefixes reads comma-separated addresses (each its own /32 or /128) and CIDRs.
func (l *loader) prefixes(key string) []netip.Prefix {
	var out []netip.Prefix
	for _, v := range l.list(key) {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			a, aerr := netip.ParseAddr(v)
			if aerr != nil {
				l.fail(key, "expects comma-separated addresses or CIDRs like 10.0.0.0/8,192.0.2.7")
				return nil
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}
