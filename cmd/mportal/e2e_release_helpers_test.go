package main

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"
)

// Helpers for the app-distribution end-to-end tests (also used by the update-check and install
// page tests).

// e2eBuild is the part of a Build the tests read.
type e2eBuild struct {
	ID          string            `json:"id"`
	AppID       string            `json:"app_id"`
	Platform    string            `json:"platform"`
	Build       int64             `json:"build"`
	Version     string            `json:"version"`
	PackageID   string            `json:"package_id"`
	DisplayName string            `json:"display_name"`
	Size        int64             `json:"size"`
	SHA256      string            `json:"sha256"`
	NotesHTML   map[string]string `json:"notes_html"`
}

// e2eTrack is the part of a Track the tests read.
type e2eTrack struct {
	AppID    string `json:"app_id"`
	Platform string `json:"platform"`
	Channel  string `json:"channel"`
	MinBuild int64  `json:"min_build"`
	Releases []struct {
		ID      string  `json:"id"`
		BuildID string  `json:"build_id"`
		Build   int64   `json:"build"`
		Percent float64 `json:"percent"`
		State   string  `json:"state"`
	} `json:"releases"`
}

// release returns the track's release of build, failing when there is none.
func (tr e2eTrack) release(t *testing.T, buildID string) (id, state string, percent float64) {
	t.Helper()
	for _, r := range tr.Releases {
		if r.BuildID == buildID {
			return r.ID, r.State, r.Percent
		}
	}
	t.Fatalf("track %s has no release of %s: %+v", tr.Channel, buildID, tr.Releases)
	return "", "", 0
}

// appPackage is the package name and bundle id the test apps of appID are built with.
func appPackage(appID string) string { return "com.example." + strings.ReplaceAll(appID, "-", "") }

// adminToken signs in the seeded admin (first call on a fresh server only).
func (ts *testServer) adminToken() string {
	ts.t.Helper()
	return ts.signIn("admin", ts.adminPassword(), "admin-passphrase-1", "admin-laptop").AccessToken
}

// createApp creates appID as ops with an Android and an iOS identity (appPackage).
func (ts *testServer) createApp(ops, appID string) {
	ts.t.Helper()
	ts.must(ts.call("POST", "/v1/ops/apps", ops, map[string]any{
		"id": appID, "name": "App " + appID, "android_package": appPackage(appID), "ios_bundle_id": appPackage(appID),
	}), 201)
}

// putUpload asks for an upload URL and PUTs data to it, straight to MinIO like the ops console
// does; it returns the upload key.
func (ts *testServer) putUpload(ops, appID, platform string, data []byte) string {
	ts.t.Helper()
	ext := ".apk"
	if platform == "ios" {
		ext = ".ipa"
	}
	var tk struct {
		UploadKey string `json:"upload_key"`
		UploadURL string `json:"upload_url"`
		Method    string `json:"method"`
	}
	ts.must(ts.call("POST", "/v1/ops/apps/"+appID+"/builds/uploads", ops, map[string]any{
		"platform": platform, "size": len(data), "filename": "app" + ext,
	}), 201).json(ts.t, &tk)
	ts.sendToUploadURL(tk.Method, tk.UploadURL, data)
	return tk.UploadKey
}

// sendToUploadURL sends data to a presigned upload URL (straight to MinIO, with the method the
// server named) and fails the test unless MinIO takes it.
func (ts *testServer) sendToUploadURL(method, uploadURL string, data []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(method, uploadURL, bytes.NewReader(data))
	if err != nil {
		ts.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		ts.t.Fatalf("PUT to the upload URL: %s", resp.Status)
	}
}

// uploadBuild uploads data as a build of appID (putUpload) and creates the build.
func (ts *testServer) uploadBuild(ops, appID, platform string, data []byte) e2eBuild {
	ts.t.Helper()
	var b e2eBuild
	ts.must(ts.call("POST", "/v1/ops/apps/"+appID+"/builds", ops, map[string]any{
		"upload_key": ts.putUpload(ops, appID, platform, data),
		"notes":      map[string]string{"en": "Build of " + strconv.Itoa(len(data)) + " bytes, **notes**", "zh-CN": "更新说明"},
	}), 201).json(ts.t, &b)
	return b
}

// publishAPK uploads an APK of appID with the given build number and publishes it to channel
// at percent; it returns the build and the track after publishing.
func (ts *testServer) publishAPK(ops, appID string, build int64, channel string, percent float64) (e2eBuild, e2eTrack) {
	ts.t.Helper()
	data := artifacttest.APK{Package: appPackage(appID), Build: build}.Bytes(ts.t)
	return ts.publish(ops, appID, "android", ts.uploadBuild(ops, appID, "android", data), channel, percent)
}

// publishIPA is publishAPK for iOS.
func (ts *testServer) publishIPA(ops, appID string, build int64, channel string, percent float64) (e2eBuild, e2eTrack) {
	ts.t.Helper()
	data := artifacttest.IPA{BundleID: appPackage(appID), Build: build}.Bytes(ts.t)
	return ts.publish(ops, appID, "ios", ts.uploadBuild(ops, appID, "ios", data), channel, percent)
}

func (ts *testServer) publish(ops, appID, platform string, b e2eBuild, channel string, percent float64) (e2eBuild, e2eTrack) {
	ts.t.Helper()
	var tr e2eTrack
	ts.must(ts.call("POST", "/v1/ops/apps/"+appID+"/releases", ops, map[string]any{
		"platform": platform, "channel": channel, "build_id": b.ID, "percent": percent,
	}), 201).json(ts.t, &tr)
	return b, tr
}
