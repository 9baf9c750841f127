package main

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

var imgSrcAttr = regexp.MustCompile(`<img src="([^"]+)"`)

// TestAnnouncementInlineImages runs an inline image through HTTP: ops upload it, reference it in
// a body as mportal-image:<key>, and an employee's read carries a presigned URL that a plain GET
// without a token downloads; an unknown key is refused with the field.
func TestAnnouncementInlineImages(t *testing.T) {
	f := newAnnouncementFixture(t)
	ts := f.ts.with(t)
	img := pngBytes(t)
	var up struct{ Key string }
	ts.must(ts.call("POST", "/v1/ops/images", f.ops, string(img), withContentType("image/png")), 201).json(t, &up)

	unknown := "0123456789abcdef0123456789abcdef.png"
	r := ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
		"title": "Map", "body": "![map](mportal-image:" + unknown + ")", "audience": map[string]any{"all": true},
	}), 400)
	var problem struct{ Code, Field, Detail string }
	r.json(t, &problem)
	if problem.Code != "invalid" || problem.Field != "body" || !strings.Contains(problem.Detail, unknown) {
		t.Fatalf("unknown key: %+v", problem)
	}

	var ann opsAnnouncement
	ts.must(ts.call("POST", "/v1/ops/announcements", f.ops, map[string]any{
		"title": "New entrance", "body": "The entrance is on the east side.\n\n![east entrance](mportal-image:" + up.Key + ")",
		"audience": map[string]any{"departments": []string{"Sales"}},
	}), 201).json(t, &ann)
	ts.pushDone("announcement:" + ann.ID + ":publish")

	download := func(t *testing.T, bodyHTML string) {
		t.Helper()
		m := imgSrcAttr.FindStringSubmatch(bodyHTML)
		if m == nil || strings.HasPrefix(m[1], "mportal-image:") {
			t.Fatalf("no presigned <img src> in %q", bodyHTML)
		}
		resp, err := http.Get(html.UnescapeString(m[1])) // a web view: no token
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(got, img) {
			t.Fatalf("GET <img src> answered %d with %d bytes", resp.StatusCode, len(got))
		}
	}
	t.Run("an employee's read carries an image URL a web view loads without a token", func(t *testing.T) {
		var d struct {
			BodyHTML string `json:"body_html"`
		}
		ts.with(t).must(ts.call("GET", "/v1/announcements/"+ann.ID, f.carol.token, nil), 200).json(t, &d)
		if !strings.Contains(d.BodyHTML, `alt="east entrance"`) {
			t.Errorf("body_html %q", d.BodyHTML)
		}
		download(t, d.BodyHTML)
	})
	t.Run("the console's Insert image uploads through the same service", func(t *testing.T) {
		ts := ts.with(t)
		_, opsS := ts.consoleSignIn("E7000", "E7000-passphrase")
		var out struct{ Key, Markdown string }
		ts.must(ts.consoleMultipart(opsS, "/console/announcements/images", nil,
			&formFile{field: "image", name: "plan.png", contentType: "image/png", data: img}), 201).json(t, &out)
		if out.Markdown != "![image](mportal-image:"+out.Key+")" {
			t.Errorf("answered %+v", out)
		}
		var link struct{ URL string }
		ts.must(ts.call("GET", "/v1/images/"+out.Key, f.carol.token, nil, withHeader("Accept", "application/json")), 200).json(t, &link)
		// The console's script asks for JSON (announce-images.js); a page's form post gets an
		// HTML error page instead.
		asScript := withHeader("Accept", "application/json")
		r := ts.must(ts.consoleMultipart(opsS, "/console/announcements/images", nil, nil, offContract, asScript), 400) // no file: off the request schema
		var p struct{ Code, Field string }
		r.json(t, &p)
		if p.Code != "invalid" || p.Field != "image" {
			t.Errorf("no file: %+v", p)
		}
		ts.must(ts.consoleMultipart(opsS, "/console/announcements/images", nil,
			&formFile{field: "image", name: "x.gif", contentType: "image/gif", data: []byte("GIF89a")}, asScript), 415)
	})
	t.Run("the ops answers carry one too", func(t *testing.T) {
		download(t, ann.BodyHTML)
		var got opsAnnouncement
		ts.with(t).must(ts.call("GET", "/v1/ops/announcements/"+ann.ID, f.ops, nil), 200).json(t, &got)
		download(t, got.BodyHTML)
	})
}
