package apperr

import (
	"errors"
	"fmt"
	"testing"
)

func TestCodeOf(t *testing.T) {
	t.Run("finds the code through wrapping", func(t *testing.T) {
		err := fmt.Errorf("load user: %w", New(NotFound, "user not found"))
		if got := CodeOf(err); got != NotFound {
			t.Fatalf("CodeOf = %q, want %q", got, NotFound)
		}
	})
	t.Run("treats a plain error as internal", func(t *testing.T) {
		if got := CodeOf(errors.New("boom")); got != Internal {
			t.Fatalf("CodeOf = %q, want internal", got)
		}
	})
	t.Run("keeps the cause for errors.Is", func(t *testing.T) {
		cause := errors.New("driver exploded")
		err := Wrap(cause, Unavailable, "database unavailable")
		if !errors.Is(err, cause) {
			t.Fatal("errors.Is lost the cause")
		}
		if err.Message != "database unavailable" {
			t.Fatalf("message leaked the cause: %q", err.Message)
		}
	})
}

func TestWrapf(t *testing.T) {
	t.Run("adds context and keeps the code", func(t *testing.T) {
		err := func() (err error) {
			defer Wrapf(&err, "publish %s", "r1")
			return New(Conflict, "already published")
		}()
		if err.Error() != "publish r1: conflict: already published" || CodeOf(err) != Conflict {
			t.Fatalf("got %v (%s)", err, CodeOf(err))
		}
	})
	t.Run("leaves nil alone", func(t *testing.T) {
		err := func() (err error) {
			defer Wrapf(&err, "noop")
			return nil
		}()
		if err != nil {
			t.Fatalf("got %v", err)
		}
	})
}
