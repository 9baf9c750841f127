package main

import (
	"context"
	"strconv"
	"testing"

	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/upload"
)

// TestServerIsNoMoreLenientThanItsContract sends requests the contract forbids and expects
// them refused with a problem naming the field. (The contract client also fails any off-
// contract request that the server answers with success.)
func TestServerIsNoMoreLenientThanItsContract(t *testing.T) {
	ts := startServer(t, testEnv(t, nil))
	admin := ts.adminToken()
	ops := ts.newOps(admin, "OPS1")
	_, alice := ts.newEmployee(admin, "E4001", "Sales")

	t.Run("refuses a page size out of range on every list", func(t *testing.T) {
		ts := ts.with(t)
		for _, list := range []struct {
			path, token string
			max         int
		}{
			{"/v1/admin/users", admin, 200},
			{"/v1/inbox", alice, 100},
			{"/v1/feedback", alice, 200},
			{"/v1/ops/feedback", ops, 200},
		} {
			for _, limit := range []string{"0", "-1", strconv.Itoa(list.max + 1), "10000", "ten"} {
				r := ts.must(ts.call("GET", list.path+"?limit="+limit, list.token, nil, offContract), 400)
				var p struct{ Code, Field string }
				r.json(t, &p)
				if p.Code != "invalid" || p.Field != "limit" {
					t.Errorf("%s?limit=%s: %s", list.path, limit, r.body)
				}
			}
			ts.must(ts.call("GET", list.path+"?limit="+strconv.Itoa(list.max), list.token, nil), 200)
		}
	})
	t.Run("refuses unknown fields in JSON bodies, naming them", func(t *testing.T) {
		ts := ts.with(t)
		for _, c := range []struct{ method, path, token, body, field string }{
			{"POST", "/v1/auth/login", "", `{"login":"E4001","password":"E4001-passphrase","device_id":"d1","remember_me":true}`, "remember_me"},
			{"PUT", "/v1/devices/d1", alice, `{"platform":"android","model":"Pixel 8","os_version":"14","app_id":"com.example.portal","app_version":"1.0.0",` +
				`"build_number":1,"channel":"stable","locale":"zh-CN","timezone":"Asia/Shanghai","push_enabled":true,"colour":"red"}`, "colour"},
			{"POST", "/v1/ops/apps", ops, `{"id":"strict","name":"Strict","android_package":"com.example.strict","owner":"me"}`, "owner"},
		} {
			r := ts.must(ts.call(c.method, c.path, c.token, c.body, offContract), 400)
			var p struct{ Code, Field string }
			r.json(t, &p)
			if p.Code != "invalid" || p.Field != c.field {
				t.Errorf("%s %s: %s", c.method, c.path, r.body)
			}
		}
	})
	t.Run("creates uploads at the URL with a trailing slash too", func(t *testing.T) {
		ts := ts.with(t)
		ts.main.uploads.Register(upload.Purpose{
			Name: "e2e_contract", MaxSize: 1 << 20, ContentTypes: []string{"image/png"},
			Authorize: func(context.Context, *auth.Principal, map[string]string) error { return nil },
			Complete:  func(context.Context, *auth.Principal, upload.Info) error { return nil },
		})
		r := ts.must(ts.call("POST", "/v1/uploads/", alice, nil, tus, withHeader("Upload-Length", "100"),
			withHeader("Upload-Metadata", upload.EncodeMetadata(map[string]string{"purpose": "e2e_contract", "filetype": "image/png"}))), 201)
		path := uploadPath(t, r.header.Get("Location"))
		// A wrong protocol version is 412 on every tus method that requires it.
		ts.must(ts.call("PATCH", path, alice, "x", withHeader("Tus-Resumable", "0.2.2"), withHeader("Upload-Offset", "0"),
			withHeader("Content-Type", "application/offset+octet-stream"), offContract), 412)
		ts.must(ts.call("DELETE", path, alice, nil, withHeader("Tus-Resumable", "0.2.2"), offContract), 412)
		ts.must(ts.call("DELETE", path, alice, nil, tus), 204)
		// HEAD answers errors without a body, and so without a body type.
		if r := ts.must(ts.call("HEAD", path, alice, nil, tus), 404); r.header.Get("Content-Type") != "" {
			t.Errorf("HEAD 404 with Content-Type %q", r.header.Get("Content-Type"))
		}
	})
}
