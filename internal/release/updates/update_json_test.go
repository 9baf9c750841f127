package updates_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mportal/mportal/internal/release/updates"
)

func TestUpdateAppendJSONMatchesEncodingJSON(t *testing.T) {
	s := func(v string) *string { return &v }
	n := func(v int64) *int64 { return &v }
	at := time.Date(2025, 3, 1, 2, 0, 0, 123000000, time.UTC)
	for _, u := range []updates.Update{
		{UpdateType: "none", Channel: "stable"},
		{UpdateType: "optional", Channel: "beta", InstalledNewer: true, Unsatisfiable: true, MinBuild: 7, Version: s("2.4.0"), Build: n(240),
			BuildID: s("android-240"), Notes: s("- \"quoted\" \\ back\nline\ttab \x01 <b>&</b> 更新 \u2028 bad:\xff"), NotesHTML: s("<p>x</p>"),
			Size: n(1 << 40), SHA256: s("ab"), PublishedAt: &at, DownloadURL: s("https://m.example/a?X-Amz-A=1&X-Amz-B=2"),
			InstallURL: s("itms-services://?action=download-manifest&url=https%3A%2F%2Fx")},
	} {
		var want, got any
		std, err := json.Marshal(u)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(u.AppendJSON(nil), &got); err != nil {
			t.Fatalf("AppendJSON wrote invalid JSON %s: %v", u.AppendJSON(nil), err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("AppendJSON differs from encoding/json (-want +got):\n%s", diff)
		}
	}
}
