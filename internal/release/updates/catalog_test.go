package updates_test

import (
	"testing"

	"github.com/mportal/mportal/internal/release/updates"
)

func TestCatalogID(t *testing.T) {
	snap := updates.NewSnapshot(newFixture().d)
	for _, tc := range []struct{ name, in, want string }{
		{"keeps a catalogue id", "portal", "portal"},
		{"maps the package name a device reports", "com.example.portal", "portal"},
		{"keeps an id no app claims", "com.example.other", "com.example.other"},
		{"keeps an empty id", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := snap.CatalogID(tc.in); got != tc.want {
				t.Fatalf("CatalogID(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
