package contracttest

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	mobilecontract "github.com/mportal/mportal/mobile-contract"
)

func TestLoad(t *testing.T) {
	t.Run("loads a contract that validates as OpenAPI 3.1", func(t *testing.T) {
		doc := Load(t).Doc()
		if !doc.IsOpenAPI31OrLater() {
			t.Fatalf("openapi = %q, want 3.1", doc.OpenAPI)
		}
		if err := doc.Validate(context.Background()); err != nil {
			t.Fatalf("Validate: %v", err)
		}
	})
	t.Run("returns the same spec every time so coverage accumulates", func(t *testing.T) {
		//lint:ignore SA4000 two calls compared: the same pointer both times
		if Load(t) != Load(t) {
			t.Fatal("Load returned two different specs")
		}
	})
	t.Run("rejects an OpenAPI 3.0 document", func(t *testing.T) {
		_, err := parse([]byte("openapi: 3.0.3\ninfo: {title: x, version: '1'}\npaths: {}\n"))
		if err == nil || !strings.Contains(err.Error(), "expects 3.1") {
			t.Fatalf("parse = %v, want a version error", err)
		}
	})
	t.Run("rejects a document that does not validate", func(t *testing.T) {
		_, err := parse([]byte("openapi: 3.1.0\ninfo: {title: x, version: '1'}\npaths:\n  /x/{id}:\n    get: {responses: {'204': {description: ok}}}\n"))
		if err == nil || !strings.Contains(err.Error(), "validate") {
			t.Fatalf("parse = %v, want a validation error", err)
		}
	})
}

func TestEveryStatusIsDeclared(t *testing.T) {
	// A "default" response would let any undeclared status through the response check.
	doc := Load(t).Doc()
	for _, r := range Load(t).Routes() {
		op := doc.Paths.Value(r.Path).GetOperation(r.Method)
		if op.Responses.Default() != nil {
			t.Errorf("%s declares a default response; declare each status it answers instead", r)
		}
	}
}

func TestRoutes(t *testing.T) {
	// Every endpoint of the design, so that the contract can neither lose nor grow one unnoticed.
	want := []string{
		"GET /console/",
		"GET /console/announcements",
		"POST /console/announcements",
		"POST /console/announcements/images",
		"GET /console/announcements/new",
		"POST /console/announcements/new",
		"POST /console/announcements/preview",
		"GET /console/announcements/{announcement_id}",
		"POST /console/announcements/{announcement_id}",
		"GET /console/announcements/{announcement_id}/edit",
		"POST /console/announcements/{announcement_id}/edit",
		"POST /console/announcements/{announcement_id}/remind",
		"POST /console/announcements/{announcement_id}/withdraw",
		"GET /console/approvals",
		"GET /console/approvals.csv",
		"GET /console/approvals/integrations",
		"GET /console/approvals/integrations/{source}/deliveries",
		"POST /console/approvals/integrations/{source}/deliveries/{delivery_id}/replay",
		"GET /console/approvals/reminders",
		"POST /console/approvals/reminders",
		"POST /console/approvals/reminders/{flow_code}/delete",
		"GET /console/apps",
		"GET /console/apps/{app_id}",
		"POST /console/apps/{app_id}/builds",
		"POST /console/apps/{app_id}/builds/uploads",
		"GET /console/apps/{app_id}/builds/{build_id}",
		"GET /console/apps/{app_id}/builds/{build_id}/icon.png",
		"GET /console/apps/{app_id}/channels/{channel}",
		"POST /console/apps/{app_id}/channels/{channel}",
		"POST /console/apps/{app_id}/channels/{channel}/members",
		"POST /console/apps/{app_id}/channels/{channel}/members/{user_id}/remove",
		"POST /console/apps/{app_id}/releases",
		"GET /console/apps/{app_id}/releases/new",
		"POST /console/apps/{app_id}/tracks/{platform}/{channel}/min-build",
		"GET /console/apps/{app_id}/tracks/{platform}/{channel}/releases/{release_id}",
		"POST /console/apps/{app_id}/tracks/{platform}/{channel}/releases/{release_id}",
		"GET /console/audit",
		"GET /console/audit.csv",
		"GET /console/banners",
		"POST /console/banners",
		"POST /console/banners/{banner_id}",
		"POST /console/banners/{banner_id}/delete",
		"GET /console/feedback",
		"GET /console/feedback.csv",
		"GET /console/feedback/{feedback_id}",
		"POST /console/feedback/{feedback_id}",
		"POST /console/feedback/{feedback_id}/merge",
		"POST /console/feedback/{feedback_id}/replies",
		"POST /console/login",
		"POST /console/logout",
		"GET /console/password",
		"POST /console/password",
		"GET /console/static/{file}",
		"GET /console/training",
		"POST /console/training/uploads",
		"HEAD /console/training/uploads/{upload_id}",
		"PATCH /console/training/uploads/{upload_id}",
		"POST /console/training/videos",
		"GET /console/training/videos/{video_id}",
		"POST /console/training/videos/{video_id}",
		"POST /console/training/videos/{video_id}/delete",
		"POST /console/training/videos/{video_id}/publish",
		"GET /console/training/videos/{video_id}/report.csv",
		"POST /console/training/videos/{video_id}/retry",
		"GET /console/users",
		"POST /console/users",
		"POST /console/users/import",
		"GET /console/users/{user_id}",
		"POST /console/users/{user_id}/password-reset",
		"POST /console/users/{user_id}/revoke-sessions",
		"POST /console/users/{user_id}/roles",
		"POST /console/users/{user_id}/status",
		"GET /console/whats-new",
		"POST /console/whats-new",
		"POST /console/whats-new/{card_id}/delete",
		"GET /healthz",
		"POST /install/login",
		"GET /install/{app_id}",
		"GET /install/{app_id}/icon.png",
		"GET /install/{app_id}/qr.png",
		"GET /metrics",
		"GET /readyz",
		"GET /v1/.well-known/jwks.json",
		"GET /v1/admin/departments",
		"GET /v1/admin/integrations",
		"POST /v1/admin/integrations",
		"DELETE /v1/admin/integrations/{source}",
		"GET /v1/admin/integrations/{source}",
		"PATCH /v1/admin/integrations/{source}",
		"GET /v1/admin/integrations/{source}/deliveries",
		"POST /v1/admin/integrations/{source}/deliveries/{delivery_id}/replay",
		"POST /v1/admin/integrations/{source}/secrets",
		"DELETE /v1/admin/integrations/{source}/secrets/{secret_id}",
		"GET /v1/admin/users",
		"POST /v1/admin/users",
		"POST /v1/admin/users/import",
		"GET /v1/admin/users/{user_id}",
		"PATCH /v1/admin/users/{user_id}",
		"POST /v1/admin/users/{user_id}/password-reset",
		"POST /v1/admin/users/{user_id}/revoke-sessions",
		"PUT /v1/admin/users/{user_id}/roles",
		"GET /v1/announcements",
		"GET /v1/announcements/{announcement_id}",
		"POST /v1/announcements/{announcement_id}/ack",
		"POST /v1/announcements/{announcement_id}/read",
		"GET /v1/approvals",
		"GET /v1/approvals/{task_id}",
		"POST /v1/approvals/{task_id}/decision",
		"GET /v1/apps",
		"GET /v1/apps/{app_id}/builds/{build_id}/download",
		"GET /v1/apps/{app_id}/builds/{build_id}/manifest.plist",
		"GET /v1/apps/{app_id}/channels",
		"POST /v1/apps/{app_id}/channels/{channel}/join",
		"POST /v1/apps/{app_id}/channels/{channel}/leave",
		"GET /v1/apps/{app_id}/update",
		"POST /v1/auth/login",
		"POST /v1/auth/logout",
		"POST /v1/auth/refresh",
		"GET /v1/auth/sessions",
		"DELETE /v1/auth/sessions/{session_id}",
		"GET /v1/devices",
		"DELETE /v1/devices/{device_id}",
		"PUT /v1/devices/{device_id}",
		"POST /v1/events",
		"GET /v1/feedback",
		"GET /v1/feedback/attachments/{attachment_id}/content",
		"GET /v1/feedback/{feedback_id}",
		"DELETE /v1/feedback/{feedback_id}/me-too",
		"PUT /v1/feedback/{feedback_id}/me-too",
		"GET /v1/images/{image_key}",
		"GET /v1/inbox",
		"POST /v1/inbox/read-all",
		"GET /v1/inbox/unread-count",
		"POST /v1/inbox/{item_id}/read",
		"POST /v1/integrations/{source}/events",
		"GET /v1/me",
		"PATCH /v1/me",
		"DELETE /v1/me/delegation",
		"GET /v1/me/delegation",
		"PUT /v1/me/delegation",
		"GET /v1/me/notification-preferences",
		"PUT /v1/me/notification-preferences",
		"POST /v1/me/password",
		"GET /v1/openapi.yaml",
		"GET /v1/ops/announcements",
		"POST /v1/ops/announcements",
		"GET /v1/ops/announcements/{announcement_id}",
		"PATCH /v1/ops/announcements/{announcement_id}",
		"POST /v1/ops/announcements/{announcement_id}/remind",
		"GET /v1/ops/announcements/{announcement_id}/stats",
		"POST /v1/ops/announcements/{announcement_id}/withdraw",
		"GET /v1/ops/approvals/reminder-policies",
		"DELETE /v1/ops/approvals/reminder-policies/{flow_code}",
		"PUT /v1/ops/approvals/reminder-policies/{flow_code}",
		"GET /v1/ops/approvals/stats",
		"GET /v1/ops/approvals/stats.csv",
		"GET /v1/ops/apps",
		"POST /v1/ops/apps",
		"GET /v1/ops/apps/{app_id}",
		"PATCH /v1/ops/apps/{app_id}",
		"GET /v1/ops/apps/{app_id}/builds",
		"POST /v1/ops/apps/{app_id}/builds",
		"POST /v1/ops/apps/{app_id}/builds/uploads",
		"DELETE /v1/ops/apps/{app_id}/builds/{build_id}",
		"PATCH /v1/ops/apps/{app_id}/builds/{build_id}",
		"GET /v1/ops/apps/{app_id}/channels",
		"PUT /v1/ops/apps/{app_id}/channels/{channel}",
		"GET /v1/ops/apps/{app_id}/channels/{channel}/members",
		"DELETE /v1/ops/apps/{app_id}/channels/{channel}/members/{user_id}",
		"PUT /v1/ops/apps/{app_id}/channels/{channel}/members/{user_id}",
		"POST /v1/ops/apps/{app_id}/releases",
		"GET /v1/ops/apps/{app_id}/stats",
		"GET /v1/ops/apps/{app_id}/tracks",
		"PUT /v1/ops/apps/{app_id}/tracks/{platform}/{channel}/min-build",
		"POST /v1/ops/apps/{app_id}/tracks/{platform}/{channel}/releases/{release_id}/complete",
		"POST /v1/ops/apps/{app_id}/tracks/{platform}/{channel}/releases/{release_id}/halt",
		"POST /v1/ops/apps/{app_id}/tracks/{platform}/{channel}/releases/{release_id}/raise",
		"POST /v1/ops/apps/{app_id}/tracks/{platform}/{channel}/releases/{release_id}/resume",
		"GET /v1/ops/banners",
		"POST /v1/ops/banners",
		"DELETE /v1/ops/banners/{banner_id}",
		"PATCH /v1/ops/banners/{banner_id}",
		"GET /v1/ops/feedback",
		"GET /v1/ops/feedback/export.csv",
		"GET /v1/ops/feedback/{feedback_id}",
		"PATCH /v1/ops/feedback/{feedback_id}",
		"POST /v1/ops/feedback/{feedback_id}/merge",
		"POST /v1/ops/feedback/{feedback_id}/replies",
		"POST /v1/ops/images",
		"GET /v1/ops/metrics",
		"GET /v1/ops/metrics/activation",
		"GET /v1/ops/metrics/active-users",
		"GET /v1/ops/metrics/active-users.csv",
		"GET /v1/ops/metrics/active-users/breakdown",
		"GET /v1/ops/metrics/adoption",
		"GET /v1/ops/metrics/adoption/releases",
		"GET /v1/ops/metrics/adoption/releases.csv",
		"GET /v1/ops/metrics/adoption/stuck",
		"GET /v1/ops/metrics/adoption/stuck/devices",
		"GET /v1/ops/metrics/announcements",
		"GET /v1/ops/metrics/feedback",
		"GET /v1/ops/metrics/screens",
		"GET /v1/ops/training/report",
		"GET /v1/ops/training/report.csv",
		"GET /v1/ops/training/videos",
		"POST /v1/ops/training/videos",
		"DELETE /v1/ops/training/videos/{video_id}",
		"GET /v1/ops/training/videos/{video_id}",
		"PATCH /v1/ops/training/videos/{video_id}",
		"GET /v1/ops/training/videos/{video_id}/preview",
		"GET /v1/ops/training/videos/{video_id}/report",
		"POST /v1/ops/training/videos/{video_id}/retry",
		"GET /v1/ops/whats-new",
		"POST /v1/ops/whats-new",
		"DELETE /v1/ops/whats-new/{card_id}",
		"GET /v1/public/banners",
		"GET /v1/sync/pull",
		"POST /v1/sync/push",
		"GET /v1/sync/rejects",
		"DELETE /v1/sync/rejects/{reject_id}",
		"GET /v1/training/play/{video_id}/{token}/{playlist}",
		"GET /v1/training/videos",
		"GET /v1/training/videos/{video_id}",
		"GET /v1/training/videos/{video_id}/download",
		"POST /v1/training/videos/{video_id}/playback",
		"PUT /v1/training/videos/{video_id}/progress",
		"POST /v1/uploads",
		"POST /v1/uploads/",
		"DELETE /v1/uploads/{upload_id}",
		"HEAD /v1/uploads/{upload_id}",
		"PATCH /v1/uploads/{upload_id}",
		"GET /v1/whats-new",
	}
	var got []string
	for _, r := range Load(t).Routes() {
		got = append(got, r.String())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Routes() =\n\t%s\nwant\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
	if !slices.Contains(got, "POST /v1/auth/login") {
		t.Fatal("Routes() lacks POST /v1/auth/login")
	}
}

func TestServedContract(t *testing.T) {
	// The API serves the embedded bytes as application/yaml: they must pass their own check.
	srv, _ := fakeServer(t, reply{contentType: "application/yaml", body: string(mobilecontract.OpenAPI)})
	rec := &recorder{TB: t}
	resp, err := Load(t).Client(rec, nil).Get(srv.URL + "/v1/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := rec.reported(); got != "" {
		t.Fatalf("the served contract was reported:\n%s", got)
	}
}

func TestClientReportsMismatches(t *testing.T) {
	tests := []struct {
		name   string
		method string
		path   string
		ctype  string // request Content-Type
		body   string // request body
		off    bool   // send through OffContract
		reply  reply
		want   []string // substrings of the report; none means the exchange must pass
	}{
		{
			name: "passes a correct User", method: "GET", path: "/v1/me",
			reply: reply{contentType: "application/json", body: userJSON},
		},
		{
			name: "reports a User missing a required field", method: "GET", path: "/v1/me",
			reply: reply{contentType: "application/json", body: strings.Replace(userJSON, `"must_change_password":false,`, "", 1)},
			want:  []string{"GET /v1/me -> 200 OK", `"must_change_password" is missing`},
		},
		{
			name: "reports a User with a wrong enum value", method: "GET", path: "/v1/me",
			reply: reply{contentType: "application/json", body: strings.Replace(userJSON, `"active"`, `"paused"`, 1)},
			want:  []string{`at "/status"`, "allowed values"},
		},
		{
			name: "reports a route the contract lacks", method: "GET", path: "/v1/nope",
			reply: reply{contentType: "application/json", body: `{}`},
			want:  []string{"GET /v1/nope -> 200 OK", "no operation of the contract matches"},
		},
		{
			name: "reports a method the contract lacks", method: "DELETE", path: "/v1/me",
			reply: reply{status: 204},
			want:  []string{"method not allowed"},
		},
		{
			name: "reports a request body missing a required field", method: "POST", path: "/v1/auth/login",
			ctype: "application/json", body: `{"login":"E1001","device_id":"d1"}`,
			reply: reply{contentType: "application/problem+json", status: 401, body: problemJSON},
			want:  []string{"POST /v1/auth/login -> 401", "request body has an error", `"password" is missing`},
		},
		{
			name: "reports a request body with an undocumented field", method: "POST", path: "/v1/auth/login",
			ctype: "application/json", body: strings.Replace(loginJSON, "{", `{"remember":true,`, 1),
			reply: reply{contentType: "application/problem+json", status: 401, body: problemJSON},
			want:  []string{`"remember" is unsupported`},
		},
		{
			name: "reports a request body sent with the wrong Content-Type", method: "POST", path: "/v1/auth/login",
			ctype: "text/plain", body: loginJSON,
			reply: reply{contentType: "application/problem+json", status: 401, body: problemJSON},
			want:  []string{`Content-Type has unexpected value "text/plain"`},
		},
		{
			name: "reports a body sent to an operation that takes none", method: "POST", path: "/v1/auth/logout",
			ctype: "application/json", body: `{}`, reply: reply{status: 204},
			want: []string{"request body not allowed"},
		},
		{
			name: "reports an invalid query parameter", method: "GET", path: "/v1/admin/users?limit=0",
			reply: reply{contentType: "application/json", body: `{"items":[],"next_cursor":null}`},
			want:  []string{`parameter "limit" in query`},
		},
		{
			name: "reports an invalid path parameter", method: "DELETE", path: "/v1/devices/has%20space",
			reply: reply{status: 204},
			want:  []string{`parameter "device_id" in path`},
		},
		{
			name: "accepts a null next_cursor", method: "GET", path: "/v1/admin/users?role=admin&limit=10",
			reply: reply{contentType: "application/json", body: `{"items":[` + userJSON + `],"next_cursor":null}`},
		},
		{
			name: "reports a next_cursor that is neither string nor null", method: "GET", path: "/v1/admin/users",
			reply: reply{contentType: "application/json", body: `{"items":[],"next_cursor":5}`},
			want:  []string{`at "/next_cursor"`},
		},
		{
			name: "passes a problem response", method: "POST", path: "/v1/auth/login",
			ctype: "application/json", body: loginJSON,
			reply: reply{contentType: "application/problem+json", status: 401, body: problemJSON},
		},
		{
			name: "reports a problem with an unknown code", method: "POST", path: "/v1/auth/login",
			ctype: "application/json", body: loginJSON,
			reply: reply{contentType: "application/problem+json", status: 401, body: strings.Replace(problemJSON, `"code":"unauthorized"`, `"code":"bad_login"`, 1)},
			want:  []string{`at "/code"`},
		},
		{
			name: "reports a problem sent as plain JSON", method: "POST", path: "/v1/auth/login",
			ctype: "application/json", body: loginJSON,
			reply: reply{contentType: "application/json", status: 401, body: problemJSON},
			want:  []string{`Content-Type has unexpected value: "application/json"`},
		},
		{
			name: "reports a status the operation does not document", method: "GET", path: "/v1/me",
			reply: reply{contentType: "application/problem+json", status: http.StatusTeapot, body: problemJSON},
			want:  []string{"GET /v1/me -> 418", "status is not supported"},
		},
		{
			name: "reports a missing X-Request-ID without hiding body mismatches", method: "GET", path: "/v1/me",
			reply: reply{contentType: "application/json", body: `{}`, noRequestID: true},
			want:  []string{`response header "X-Request-ID" missing`, `"id" is missing`},
		},
		{
			name: "reports a 429 without Retry-After", method: "POST", path: "/v1/auth/login",
			ctype: "application/json", body: loginJSON,
			reply: reply{contentType: "application/problem+json", status: 429, body: strings.ReplaceAll(problemJSON, "unauthorized", "rate_limited")},
			want:  []string{`response header "Retry-After" missing`},
		},
		{
			name: "passes a 429 with Retry-After", method: "POST", path: "/v1/auth/login",
			ctype: "application/json", body: loginJSON,
			reply: reply{contentType: "application/problem+json", status: 429, headers: map[string]string{"Retry-After": "30"},
				body: strings.ReplaceAll(problemJSON, "unauthorized", "rate_limited")},
		},
		{
			name: "passes a CSV import", method: "POST", path: "/v1/admin/users/import",
			ctype: "text/csv", body: "employee_no,name\nE1,Ann\n",
			reply: reply{contentType: "application/json", body: `{"created":1,"updated":0,"unchanged":0,"failed":0,"rows":[{"line":2,"employee_no":"E1","status":"created"}]}`},
		},
		{
			name: "reports a CSV import sent as JSON", method: "POST", path: "/v1/admin/users/import",
			ctype: "application/json", body: `{}`,
			reply: reply{contentType: "application/problem+json", status: 415, body: strings.ReplaceAll(problemJSON, "unauthorized", "unsupported_media_type")},
			want:  []string{`Content-Type has unexpected value "application/json"`},
		},
		{
			name: "passes Prometheus text metrics", method: "GET", path: "/metrics",
			reply: reply{contentType: "text/plain; version=0.0.4; charset=utf-8", body: "# HELP up Up.\nup 1\n", noRequestID: true},
		},
		{
			name: "skips request validation for an off-contract request", method: "POST", path: "/v1/auth/login",
			ctype: "application/json", body: `{"login":`, off: true,
			reply: reply{contentType: "application/problem+json", status: 400, body: strings.ReplaceAll(problemJSON, "unauthorized", "invalid_json")},
		},
		{
			name: "still validates the response to an off-contract request", method: "POST", path: "/v1/auth/login",
			ctype: "text/plain", body: "hi", off: true,
			reply: reply{contentType: "text/plain", status: 415, body: "unsupported"},
			want:  []string{`"text/plain"`},
		},
		{
			name: "reports an off-contract request that the server accepted", method: "GET", path: "/v1/admin/users?limit=1000", off: true,
			reply: reply{contentType: "application/json", body: `{"items":[],"next_cursor":null}`},
			want:  []string{"status 200 accepts a request that breaks the contract", `parameter "limit" in query`},
		},
		{
			name: "reports an unknown body field that the server accepted", method: "POST", path: "/v1/auth/login", off: true,
			ctype: "application/json", body: strings.Replace(loginJSON, "{", `{"remember":true,`, 1),
			reply: reply{status: 204},
			want:  []string{"status 204 accepts a request that breaks the contract", `"remember" is unsupported`},
		},
		{
			name: "passes an off-contract request that the server refused", method: "GET", path: "/v1/admin/users?limit=1000", off: true,
			reply: reply{contentType: "application/problem+json", status: 400, body: strings.ReplaceAll(problemJSON, "unauthorized", "invalid")},
		},
		{
			name: "reports a response header the contract does not declare", method: "GET", path: "/v1/me",
			reply: reply{contentType: "application/json", body: userJSON, headers: map[string]string{"X-Powered-By": "mportal", "Cache-Control": "no-store"}},
			want:  []string{`header "X-Powered-By" is not declared for status 200`},
		},
		{
			name: "reports a body type on an answer the contract gives no body", method: "POST", path: "/v1/auth/logout",
			reply: reply{status: 204, contentType: "application/problem+json"},
			want:  []string{`Content-Type "application/problem+json", but the contract documents no body for status 204`},
		},
		{
			name: "passes a problem for an off-contract request to an unknown endpoint", method: "GET", path: "/v1/nope", off: true,
			reply: reply{contentType: "application/problem+json", status: 404, body: strings.ReplaceAll(problemJSON, "unauthorized", "not_found")},
		},
		{
			name: "reports a non-problem for an off-contract request to an unknown endpoint", method: "GET", path: "/v1/nope", off: true,
			reply: reply{contentType: "text/plain", status: 404, body: "Cannot GET /v1/nope"},
			want:  []string{"want application/problem+json"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeServer(t, tt.reply)
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			req.Header.Set("Authorization", "Bearer any-token-will-do")
			if tt.off {
				req = OffContract(req)
			}
			rec := &recorder{TB: t}
			resp, err := Load(t).Client(rec, nil).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()

			got := rec.reported()
			if len(tt.want) == 0 && got != "" {
				t.Fatalf("a valid exchange was reported:\n%s", got)
			}
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("report lacks %q; got:\n%s", want, got)
				}
			}
		})
	}
}
