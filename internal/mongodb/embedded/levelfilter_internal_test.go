package embedded

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
)

// countingHandler counts the WithAttrs calls that reach it.
type countingHandler struct {
	slog.Handler
	withAttrs *int
}

func (h countingHandler) WithAttrs(a []slog.Attr) slog.Handler {
	*h.withAttrs++
	return countingHandler{Handler: h.Handler.WithAttrs(a), withAttrs: h.withAttrs}
}

func (h countingHandler) WithGroup(name string) slog.Handler {
	return countingHandler{Handler: h.Handler.WithGroup(name), withAttrs: h.withAttrs}
}

// TestLevelFilterDerivesOnlyForRecordsItPasses: loggers derived with attributes (as FerretDB
// derives one per SQL statement) cost the handler nothing until a record passes the filter,
// which then carries every attribute and group in order.
func TestLevelFilterDerivesOnlyForRecordsItPasses(t *testing.T) {
	var out bytes.Buffer
	n := 0
	base := countingHandler{Handler: slog.NewTextHandler(&out, nil), withAttrs: &n}
	log := slog.New(levelFilter{Handler: base, min: slog.LevelError})
	for i := range 100 {
		l := log.With("sql", "UPDATE t SET x = ?", "i", i)
		l.Debug("statement")
		l.Warn("not an error")
	}
	if n != 0 || out.Len() != 0 {
		t.Fatalf("%d WithAttrs reached the handler and %q was written, want none", n, out.String())
	}
	log.With("conn", "c1").WithGroup("op").With("sql", "INSERT").Error("failed", "code", 11000)
	got := out.String()
	for _, want := range []string{"level=ERROR", "msg=failed", "conn=c1", "op.sql=INSERT", "op.code=11000"} {
		if !strings.Contains(got, want) {
			t.Errorf("record %q lacks %q", got, want)
		}
	}
	if n != 2 {
		t.Errorf("%d WithAttrs reached the handler for the one record written, want 2", n)
	}
	if !log.Handler().Enabled(context.Background(), slog.LevelError) || log.Handler().Enabled(context.Background(), slog.LevelWarn) {
		t.Error("the filter lets through other levels than error and above")
	}
}
