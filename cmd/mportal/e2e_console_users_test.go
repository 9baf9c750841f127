package main

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// shownPassword finds the one-time password on the console's password page.
var shownPassword = regexp.MustCompile(`id="one-time-password"[^>]*>([^<]+)<`)

// adminUser is what GET /v1/admin/users/{id} says of a user.
type adminUser struct {
	ID         string   `json:"id"`
	EmployeeNo string   `json:"employee_no"`
	Roles      []string `json:"roles"`
	Status     string   `json:"status"`
}

func (ts *testServer) adminUser(admin, id string) adminUser {
	ts.t.Helper()
	var u adminUser
	ts.must(ts.call("GET", "/v1/admin/users/"+id, admin, nil), 200).json(ts.t, &u)
	return u
}

// listedUsers returns the employee numbers GET /v1/admin/users?q= lists.
func (ts *testServer) listedUsers(admin, q string) []string {
	ts.t.Helper()
	var page struct{ Items []adminUser }
	ts.must(ts.call("GET", "/v1/admin/users?limit=200&q="+url.QueryEscape(q), admin, nil), 200).json(ts.t, &page)
	var out []string
	for _, u := range page.Items {
		out = append(out, u.EmployeeNo)
	}
	return out
}

// TestConsoleUsersEndToEnd drives the admins' user screens over HTTP: create (one-time password
// shown once), CSV import with per-row results, roles, password reset, ending sessions and a
// user's devices, each checked through the API and the audit log; ops are kept out of all of it.
func TestConsoleUsersEndToEnd(t *testing.T) {
	// An import limit under the JSON body limit lets an oversized file reach the console's own
	// check (above the body limit, the HTTP server refuses the request before any handler).
	ts := startServer(t, testEnv(t, map[string]string{"MPORTAL_IMPORT_BODY_LIMIT": "65536"}))
	admin := ts.adminToken()
	ts.newOps(admin, "OPS1")
	_, as := ts.consoleSignIn("admin", "admin-passphrase-1")
	_, oc := ts.consoleSignIn("OPS1", "OPS1-passphrase")
	en := withHeader("Accept-Language", "en")

	var createdID string
	t.Run("creates a user and shows the one-time password once, not in the audit log", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(as, "/console/users", url.Values{"employee_no": {"C5001"}, "name": {"Chen Five"},
			"department": {"Sales"}, "roles": {"approver"}}, en), 201)
		if r.header.Get("Cache-Control") != "no-store" {
			t.Errorf("the password page may be cached: %q", r.header.Get("Cache-Control"))
		}
		m := shownPassword.FindSubmatch(r.body)
		if m == nil {
			t.Fatalf("no one-time password on the page:\n%s", r.body)
		}
		otp := html.UnescapeString(string(m[1]))
		tk := ts.signIn("C5001", otp, "C5001-passphrase", "C5001-phone")
		var me struct{ ID string }
		ts.must(ts.call("GET", "/v1/me", tk.AccessToken, nil), 200).json(t, &me)
		createdID = me.ID
		if u := ts.adminUser(admin, createdID); strings.Join(u.Roles, ",") != "employee,approver" {
			t.Errorf("the API's roles of the created user: %v", u.Roles)
		}
		audit := ts.must(ts.call("GET", "/console/audit.csv", "", nil, as.cookies()), 200)
		if !strings.Contains(string(audit.body), "user.create") || strings.Contains(string(audit.body), otp) {
			t.Errorf("the audit log lacks the creation or holds the password:\n%s", audit.body)
		}
	})

	t.Run("shows the form again with the problem for a taken employee number", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consolePost(as, "/console/users", url.Values{"employee_no": {"c5001"}, "name": {"Someone Else"}}, en), 409)
		body := string(r.body)
		if !strings.Contains(body, `id="create-problem"`) || !strings.Contains(body, "employee_no") || !strings.Contains(body, `value="Someone Else"`) {
			t.Errorf("the refused form reads:\n%s", body)
		}
		r = ts.must(ts.consolePost(as, "/console/users", url.Values{"employee_no": {"C5002"}, "name": {""}}, en), 400)
		if !strings.Contains(string(r.body), "name") {
			t.Errorf("the problem does not name the field:\n%s", r.body)
		}
	})

	t.Run("imports a CSV with per-row results; the API lists the good rows only", func(t *testing.T) {
		ts := ts.with(t)
		file := "employee_no,name,email,department,roles\n" +
			"I6001,Ivy One,ivy1@example.com,Sales,\n" +
			"I6002,,ivy2@example.com,Sales,\n" + // no name
			"I6003,Ivy Three,ivy3@example.com,IT,ops;approver\n" +
			"I6004,Ivy Four,not-an-email,IT,\n" +
			"I6005,Ivy Five,,IT,wizard\n" + // unknown role
			"I6001,Ivy Again,,Sales,\n" // repeated
		r := ts.must(ts.consoleMultipart(as, "/console/users/import", nil, &formFile{field: "file", name: "people.csv", data: []byte(file)}, en), 200)
		body := string(r.body)
		for line, want := range map[string]string{"2": "created", "3": "error", "4": "created", "5": "error", "6": "error", "7": "error"} {
			row := regexp.MustCompile(`<tr id="row-` + line + `" class="row-(\w+)">`).FindStringSubmatch(body)
			if row == nil || row[1] != want {
				t.Errorf("line %s: %v, want %s", line, row, want)
			}
		}
		for _, want := range []string{`id="import-created">2<`, `id="import-failed">4<`, "name", "email", "roles", "line 2"} {
			if !strings.Contains(body, want) {
				t.Errorf("the result page lacks %q:\n%s", want, body)
			}
		}
		if got := ts.listedUsers(admin, "I600"); strings.Join(got, ",") != "I6001,I6003" {
			t.Errorf("the API lists %v after the import", got)
		}
		again := ts.must(ts.consoleMultipart(as, "/console/users/import", nil, &formFile{field: "file", name: "people.csv", data: []byte(file)}, en), 200)
		if !strings.Contains(string(again.body), `id="import-unchanged">2<`) {
			t.Errorf("importing the file again changed something:\n%s", again.body)
		}
		audit := ts.must(ts.call("GET", "/console/audit.csv", "", nil, as.cookies()), 200)
		if !strings.Contains(string(audit.body), "user.import") || !strings.Contains(string(audit.body), "I6003") {
			t.Errorf("the audit log lacks the import:\n%s", audit.body)
		}
	})

	t.Run("refuses a whole file with a clear problem", func(t *testing.T) {
		ts := ts.with(t)
		r := ts.must(ts.consoleMultipart(as, "/console/users/import", nil, &formFile{field: "file", name: "bad.csv", data: []byte("who,what\nx,y\n")}, en), 400)
		if !strings.Contains(string(r.body), `id="import-problem"`) {
			t.Errorf("no problem shown:\n%s", r.body)
		}
		big := bytes.Repeat([]byte("x"), ts.main.Config.ImportLimit+1)
		ts.must(ts.consoleMultipart(as, "/console/users/import", nil, &formFile{field: "file", name: "big.csv", data: big}, en), 413)
		forged := ts.consoleMultipart(as, "/console/users/import", url.Values{"csrf_token": {"forged-token-forged-token-forged-token-123"}}, &formFile{field: "file", name: "people.csv", data: []byte("employee_no,name\nF1,F\n")})
		if ts.must(forged, 403).problemCode() != "forbidden" {
			t.Errorf("a forged import: %s", forged.body)
		}
		if got := ts.listedUsers(admin, "F1"); len(got) != 0 {
			t.Errorf("the forged import created %v", got)
		}
	})

	t.Run("sets roles, resets the password and ends sessions, as the API then shows", func(t *testing.T) {
		ts := ts.with(t)
		id, token := ts.newEmployee(admin, "R7001", "IT")
		ts.must(ts.call("PUT", "/v1/devices/r-phone", token, device("android")), 200)
		page := ts.must(ts.call("GET", "/console/users/"+id, "", nil, as.cookies(), en), 200)
		if !strings.Contains(string(page.body), "Pixel 8") || !strings.Contains(string(page.body), "r-phone") {
			t.Errorf("the user's page lacks the device:\n%s", page.body)
		}

		r := ts.must(ts.consolePost(as, "/console/users/"+id+"/roles", url.Values{"roles": {"ops", "beta_tester"}}), 303)
		if r.header.Get("Location") != "/console/users/"+id {
			t.Errorf("Location %q", r.header.Get("Location"))
		}
		if u := ts.adminUser(admin, id); strings.Join(u.Roles, ",") != "employee,beta_tester,ops" {
			t.Errorf("the API's roles after the console set them: %v", u.Roles)
		}
		ts.must(ts.consolePost(as, "/console/users/"+id+"/roles", url.Values{"roles": {"wizard"}}, en, offContract), 400)

		ts.must(ts.consolePost(as, "/console/users/"+id+"/revoke-sessions", nil), 303)
		ts.must(ts.call("GET", "/v1/me", token, nil), 401)

		r = ts.must(ts.consolePost(as, "/console/users/"+id+"/password-reset", nil, en), 200)
		m := shownPassword.FindSubmatch(r.body)
		if m == nil {
			t.Fatalf("no one-time password after the reset:\n%s", r.body)
		}
		ts.signIn("R7001", html.UnescapeString(string(m[1])), "R7001-passphrase-2", "R7001-phone")

		audit := ts.must(ts.call("GET", "/console/audit.csv", "", nil, as.cookies()), 200)
		rows, err := csv.NewReader(bytes.NewReader(audit.body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, row := range rows {
			if strings.Contains(strings.Join(row, ","), id) {
				for _, cell := range row {
					seen[cell] = true
				}
			}
		}
		for _, action := range []string{"user.roles", "user.revoke_sessions", "user.password_reset"} {
			if !seen[action] {
				t.Errorf("the audit log lacks %s on %s", action, id)
			}
		}
	})

	t.Run("an admin cannot take away their own admin role", func(t *testing.T) {
		ts := ts.with(t)
		var me struct{ ID string }
		ts.must(ts.call("GET", "/v1/me", admin, nil), 200).json(t, &me)
		r := ts.must(ts.consolePost(as, "/console/users/"+me.ID+"/roles", url.Values{"roles": {"ops"}}, en), 409)
		if !strings.Contains(string(r.body), `id="user-problem"`) {
			t.Errorf("no problem shown:\n%s", r.body)
		}
		if u := ts.adminUser(admin, me.ID); !strings.Contains(strings.Join(u.Roles, ","), "admin") {
			t.Errorf("the admin lost the role: %v", u.Roles)
		}
	})

	t.Run("the users screen pages through more users than one page holds", func(t *testing.T) {
		// It showed the first 200 and dropped the rest, with no sign that the list was cut.
		ts := ts.with(t)
		var rows strings.Builder
		rows.WriteString("employee_no,name,email,department,roles\n")
		for i := range 205 {
			fmt.Fprintf(&rows, "P%04d,Page %d,,Paging,employee\n", i, i)
		}
		ts.must(ts.call("POST", "/v1/admin/users/import", admin, rows.String(), withHeader("Content-Type", "text/csv")), 200)
		seen := map[string]bool{}
		next := "/console/users?q=Page"
		pages := 0
		for next != "" && pages < 5 {
			pages++
			body := string(ts.must(ts.call("GET", next, "", nil, as.cookies(), en), 200).body)
			for _, m := range regexp.MustCompile(`>(P\d{4})</a>`).FindAllStringSubmatch(body, -1) {
				seen[m[1]] = true
			}
			next = ""
			if m := regexp.MustCompile(`<a href="([^"]+)" rel="next">`).FindStringSubmatch(body); m != nil {
				next = html.UnescapeString(m[1])
			}
		}
		if pages != 2 || len(seen) != 205 {
			t.Fatalf("%d pages showed %d of the 205 users", pages, len(seen))
		}
	})
	t.Run("ops cannot manage users", func(t *testing.T) {
		ts := ts.with(t)
		ts.must(ts.call("GET", "/console/users/"+createdID, "", nil, oc.cookies()), 403)
		ts.must(ts.consolePost(oc, "/console/users", url.Values{"employee_no": {"X1"}, "name": {"X"}}), 403)
		ts.must(ts.consolePost(oc, "/console/users/"+createdID+"/roles", url.Values{"roles": {"admin"}}), 403)
		ts.must(ts.consolePost(oc, "/console/users/"+createdID+"/password-reset", nil), 403)
		ts.must(ts.consolePost(oc, "/console/users/"+createdID+"/revoke-sessions", nil), 403)
		ts.must(ts.consoleMultipart(oc, "/console/users/import", nil, &formFile{field: "file", name: "p.csv", data: []byte("employee_no,name\nX2,X\n")}), 403)
		if got := append(ts.listedUsers(admin, "X1"), ts.listedUsers(admin, "X2")...); len(got) != 0 {
			t.Errorf("ops created %v", got)
		}
		if u := ts.adminUser(admin, createdID); strings.Contains(strings.Join(u.Roles, ","), "admin") {
			t.Errorf("ops made %s an admin", createdID)
		}
	})
}
