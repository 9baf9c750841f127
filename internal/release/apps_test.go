package release

import (
	"testing"

	"github.com/mportal/mportal/internal/apperr"
)

func TestApps(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")

	t.Run("creating an app makes its alpha, beta and stable channels", func(t *testing.T) {
		chs, err := f.svc.ListChannels(ctx, opsUser, "portal")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, c := range chs {
			names = append(names, c.Name+":"+string(c.Kind))
		}
		if len(names) != 3 || names[0] != "alpha:alpha" || names[1] != "beta:beta" || names[2] != "stable:stable" {
			t.Fatalf("channels = %v", names)
		}
	})
	t.Run("a taken id is a conflict", func(t *testing.T) {
		_, err := f.svc.CreateApp(ctx, opsUser, AppInput{ID: "portal", Name: "Again", AndroidPackage: "com.example.x"})
		wantCode(t, err, apperr.Conflict)
	})
	t.Run("bad input names the field", func(t *testing.T) {
		for _, in := range []AppInput{
			{ID: "Portal", Name: "x", AndroidPackage: "com.a.b"},
			{ID: "ok-id", Name: "", AndroidPackage: "com.a.b"},
			{ID: "ok-id", Name: "x"},
			{ID: "ok-id", Name: "x", AndroidPackage: "not a package"},
		} {
			_, err := f.svc.CreateApp(ctx, opsUser, in)
			wantCode(t, err, apperr.Invalid)
		}
	})
	t.Run("an update changes only the given fields", func(t *testing.T) {
		name := "Field Portal"
		a, err := f.svc.UpdateApp(ctx, opsUser, "portal", AppPatch{Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != name || a.AndroidPackage != "com.example.portal" {
			t.Fatalf("app = %+v", a)
		}
		empty := ""
		_, err = f.svc.UpdateApp(ctx, opsUser, "portal", AppPatch{AndroidPackage: &empty, IOSBundleID: &empty})
		wantCode(t, err, apperr.Invalid)
	})
	t.Run("employees see every app but cannot manage them", func(t *testing.T) {
		apps, err := f.svc.Apps(ctx, employee)
		if err != nil || len(apps) != 1 {
			t.Fatalf("apps = %v, %v", apps, err)
		}
		_, err = f.svc.CreateApp(ctx, employee, AppInput{ID: "mine", Name: "x", AndroidPackage: "com.a.b"})
		wantCode(t, err, apperr.Forbidden)
		_, err = f.svc.ListApps(ctx, employee)
		wantCode(t, err, apperr.Forbidden)
		_, err = f.svc.StartUpload(ctx, employee, "portal", UploadInput{Platform: Android, Size: 10})
		wantCode(t, err, apperr.Forbidden)
		_, err = f.svc.Publish(ctx, employee, "portal", PublishInput{Platform: Android, Channel: "beta", BuildID: "android-1", Percent: 10})
		wantCode(t, err, apperr.Forbidden)
		_, err = f.svc.Invite(ctx, employee, "portal", "beta", employee.UserID)
		wantCode(t, err, apperr.Forbidden)
		_, err = f.svc.PutChannel(ctx, employee, "portal", "beta", ChannelInput{SelfOptIn: true})
		wantCode(t, err, apperr.Forbidden)
	})
	t.Run("every write moves the generation", func(t *testing.T) {
		var gen struct{ Token string }
		if err := f.svc.coll(metaColl).FindOne(ctx, map[string]string{"_id": generationID}).Decode(&gen); err != nil {
			t.Fatal(err)
		}
		before := gen.Token
		if _, err := f.svc.PutChannel(ctx, opsUser, "portal", "beta", ChannelInput{SelfOptIn: true}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.coll(metaColl).FindOne(ctx, map[string]string{"_id": generationID}).Decode(&gen); err != nil {
			t.Fatal(err)
		}
		if gen.Token == "" || gen.Token == before || f.changes == 0 {
			t.Fatalf("token %q -> %q, %d OnChange calls", before, gen.Token, f.changes)
		}
	})
}

func TestChannelSettings(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	f.app(t, "portal")
	tests := []struct {
		name    string
		channel string
		in      ChannelInput
		field   string
	}{
		{"stable cannot get a cap", "stable", ChannelInput{Cap: 5}, "cap"},
		{"stable cannot take opt-in", "stable", ChannelInput{SelfOptIn: true}, "cap"},
		{"beta takes no departments", "beta", ChannelInput{Departments: []string{"IT"}}, "roles"},
		{"an unknown role is refused", "alpha", ChannelInput{Roles: []string{"wizard"}}, "roles"},
		{"a negative cap is refused", "beta", ChannelInput{Cap: -1}, "cap"},
		{"a bad custom name is refused", "Bad_Name", ChannelInput{}, "channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.PutChannel(ctx, opsUser, "portal", tt.channel, tt.in)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || e.Field != tt.field {
				t.Fatalf("err = %v, want invalid on %s", err, tt.field)
			}
		})
	}
	t.Run("a new name makes a custom channel", func(t *testing.T) {
		c, err := f.svc.PutChannel(ctx, opsUser, "portal", "field-pilot", ChannelInput{Departments: []string{"Field"}, Retention: 3})
		if err != nil {
			t.Fatal(err)
		}
		if c.Kind != KindCustom || c.Retention != 3 || len(c.Departments) != 1 || c.CreatedAt.IsZero() {
			t.Fatalf("channel = %+v", c)
		}
	})
}
