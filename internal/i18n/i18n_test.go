package i18n

import "testing"

func TestPick(t *testing.T) {
	cases := []struct {
		name   string
		texts  map[string]string
		locale string
		want   string
	}{
		{"takes the reader's locale", map[string]string{"zh-CN": "你好", "en": "hello"}, "en", "hello"},
		{"falls back to zh-CN first", map[string]string{"zh-CN": "你好", "en": "hello"}, "fr", "你好"},
		{"then to en", map[string]string{"en": "hello"}, "zh-CN", "hello"},
		{"skips empty texts", map[string]string{"en": "", "zh-CN": "你好"}, "en", "你好"},
		{"then picks a stable other locale", map[string]string{"ja": "x", "de": "y"}, "fr", "y"},
		{"returns nothing for no text", nil, "en", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Pick(tc.texts, tc.locale); got != tc.want {
				t.Fatalf("Pick = %q, want %q", got, tc.want)
			}
		})
	}
}
