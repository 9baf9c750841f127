package whatsnew

import (
	"testing"

	"github.com/mportal/mportal/internal/apperr"
)

func TestRange(t *testing.T) {
	t.Run("contains the builds after from_build up to to_build", func(t *testing.T) {
		r := Range{AppID: "com.example.portal", FromBuild: 10, ToBuild: 12}
		for build, want := range map[int]bool{9: false, 10: false, 11: true, 12: true, 13: false} {
			if got := r.Contains("com.example.portal", build); got != want {
				t.Errorf("Contains(%d) = %v, want %v", build, got, want)
			}
		}
		if r.Contains("com.example.other", 11) {
			t.Error("a card of another app is in the range")
		}
	})
	tests := []struct {
		name  string
		r     Range
		field string
	}{
		{"accepts an empty range", Range{AppID: "com.example.portal", FromBuild: 5, ToBuild: 5}, ""},
		{"rejects to_build below from_build", Range{AppID: "com.example.portal", FromBuild: 5, ToBuild: 4}, "to_build"},
		{"rejects a negative from_build", Range{AppID: "com.example.portal", FromBuild: -1, ToBuild: 4}, "from_build"},
		{"rejects an app id without a dot", Range{AppID: "portal", FromBuild: 1, ToBuild: 4}, "app"},
		{"rejects an empty app id", Range{FromBuild: 1, ToBuild: 4}, "app"},
		{"rejects an app id with a space", Range{AppID: "com.example .portal", FromBuild: 1, ToBuild: 4}, "app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.r.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || e.Field != tc.field {
				t.Fatalf("Validate = %v, want invalid %s", err, tc.field)
			}
		})
	}
}

func TestValidText(t *testing.T) {
	t.Run("drops blank entries", func(t *testing.T) {
		got, err := validText("title", map[string]string{"zh-CN": " 新 ", "en": " "}, 10)
		if err != nil || len(got) != 1 || got["zh-CN"] != "新" {
			t.Fatalf("validText = %v, %v", got, err)
		}
	})
	for name, m := range map[string]map[string]string{
		"rejects no text at all":     {},
		"rejects only blank texts":   {"en": "  "},
		"rejects an unknown locale":  {"fr": "Bonjour"},
		"rejects a text over limit":  {"en": "12345678901"},
		"rejects control characters": {"en": "a\x00b"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := validText("title", m, 10)
			if e, ok := apperr.As(err); !ok || e.Field != "title" {
				t.Fatalf("validText = %v, want invalid title", err)
			}
		})
	}
}

func TestNextOrder(t *testing.T) {
	cards := []Card{
		{AppID: "com.a.b", BuildNumber: 2, Order: 0},
		{AppID: "com.a.b", BuildNumber: 2, Order: 4},
		{AppID: "com.a.b", BuildNumber: 3, Order: 9},
		{AppID: "com.a.c", BuildNumber: 2, Order: 7},
	}
	if got := nextOrder(cards, "com.a.b", 2); got != 5 {
		t.Fatalf("nextOrder = %d, want 5 (after the build's last card)", got)
	}
	if got := nextOrder(cards, "com.a.b", 1); got != 0 {
		t.Fatalf("nextOrder for a new build = %d, want 0", got)
	}
	// A card placed last by hand (order 1000) leaves the free positions before it.
	atEnd := append(cards, Card{AppID: "com.a.b", BuildNumber: 2, Order: maxOrder})
	if got := nextOrder(atEnd, "com.a.b", 2); got != 1 {
		t.Fatalf("nextOrder after a card at %d = %d, want the first free position, 1", maxOrder, got)
	}
	var full []Card
	for o := range maxOrder + 1 {
		full = append(full, Card{AppID: "com.a.b", BuildNumber: 5, Order: o})
	}
	if got := nextOrder(full, "com.a.b", 5); got <= maxOrder {
		t.Fatalf("nextOrder of a full build = %d, want past %d", got, maxOrder)
	}
}
