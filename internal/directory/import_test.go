package directory

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func (f *fixture) importCSV(t *testing.T, lines ...string) *ImportResult {
	t.Helper()
	res, err := f.users.Import(f.ctx, f.admin, csvOf(lines...))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f *fixture) byEmployeeNo(t *testing.T, no string) *User {
	t.Helper()
	id, err := f.users.keyOwner(f.ctx, empKey(no))
	if err != nil {
		t.Fatalf("%s: %v", no, err)
	}
	u, err := f.users.Get(f.ctx, f.admin, id)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestImportIsIdempotent(t *testing.T) {
	f := newFixture(t)
	first := []string{
		"name,employee_no,email,department,roles",
		"Zhang San,E1,zhang@example.com,R&D,approver;beta_tester",
		"Li Si,E2,,Sales,",
	}
	t.Run("creates new users", func(t *testing.T) {
		res := f.importCSV(t, first...)
		want := &ImportResult{Created: 2, Rows: []ImportRow{
			{Line: 2, EmployeeNo: "E1", Status: RowCreated},
			{Line: 3, EmployeeNo: "E2", Status: RowCreated},
		}}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Fatalf("result (-want +got):\n%s", diff)
		}
		u := f.byEmployeeNo(t, "E1")
		if again := f.importCSV(t, first...); again.Unchanged != 2 || again.Created+again.Updated+again.Failed != 0 {
			t.Fatalf("re-import: %+v", again)
		}
		if u.Name != "Zhang San" || u.Email != "zhang@example.com" || u.Department != "R&D" ||
			!sameRoles(u.Roles, roles(auth.RoleEmployee, auth.RoleBetaTester, auth.RoleApprover)) || u.PasswordHash != "" {
			t.Fatalf("E1 = %+v", u)
		}
	})
	second := []string{
		"EMPLOYEE_NO, name ,department,status",
		"e1,Zhang San,Sales,active", // matched case-insensitively; department changes
		"E2,Li Si,Sales,",           // nothing changes
		"",
		"E3,Wang Wu,Ops,disabled",
	}
	t.Run("updates changed users and leaves the others", func(t *testing.T) {
		res := f.importCSV(t, second...)
		want := &ImportResult{Created: 1, Updated: 1, Unchanged: 1, Rows: []ImportRow{
			{Line: 2, EmployeeNo: "e1", Status: RowUpdated},
			{Line: 3, EmployeeNo: "E2", Status: RowUnchanged},
			{Line: 5, EmployeeNo: "E3", Status: RowCreated},
		}}
		if diff := cmp.Diff(want, res); diff != "" {
			t.Fatalf("result (-want +got):\n%s", diff)
		}
		u := f.byEmployeeNo(t, "E1")
		if u.EmployeeNo != "E1" || u.Department != "Sales" || u.Email != "zhang@example.com" || len(u.Roles) != 3 {
			t.Fatalf("columns missing from the file must be left alone: %+v", u)
		}
		if f.byEmployeeNo(t, "E3").Status != StatusDisabled {
			t.Fatal("E3 not disabled")
		}
	})
	t.Run("a second import of the same file changes nothing", func(t *testing.T) {
		res := f.importCSV(t, second...)
		if res.Unchanged != 3 || res.Created+res.Updated+res.Failed != 0 {
			t.Fatalf("got %+v", res)
		}
	})
	t.Run("disabling by import revokes sessions", func(t *testing.T) {
		e2 := f.byEmployeeNo(t, "E2")
		f.importCSV(t, "employee_no,name,status", "E2,Li Si,disabled")
		if f.revoker.count(e2.ID) != 1 {
			t.Fatal("sessions not revoked")
		}
	})
	t.Run("an imported user cannot log in until an admin resets the password", func(t *testing.T) {
		acc, err := f.users.FindByLogin(f.ctx, "e3")
		if err != nil || acc.PasswordHash != "" {
			t.Fatalf("got %+v, %v", acc, err)
		}
		if ok, _ := auth.VerifyPassword("", acc.PasswordHash); ok {
			t.Fatal("an empty hash verified")
		}
	})
}

func TestImportReportsBadRows(t *testing.T) {
	f := newFixture(t)
	f.importCSV(t, "employee_no,name,email,department", "E1,Zhang,zhang@example.com,R&D", "E2,Li,li@example.com,R&D")
	res := f.importCSV(t,
		"employee_no,name,email,department,roles",
		"E1,Zhang,not-an-email,Sales,",         // line 2: bad email; the department change must not apply
		"E3,Wang,li@example.com,Ops,",          // line 3: email taken; E3 must not be created
		`E4,"Multi`,                            // line 4: a name with a line break
		`Line",,,`,                             // (still line 4's record)
		"E5,Zhao,,,king",                       // line 6: unknown role
		"E6,Too,Few",                           // line 7: wrong number of fields
		"bad no,Sun,,,",                        // line 8: bad employee number
		"E7,Qian,,,",                           // line 9: fine
		"e7,Qian Again,,,",                     // line 10: duplicate in file
		"E2,Li,LI@example.com,R&D,beta_tester", // line 11: fine, own email in another case
	)
	want := &ImportResult{Created: 1, Updated: 1, Failed: 7, Rows: []ImportRow{
		{Line: 2, EmployeeNo: "E1", Status: RowError, Field: "email"},
		{Line: 3, EmployeeNo: "E3", Status: RowError, Field: "email"},
		{Line: 4, EmployeeNo: "E4", Status: RowError, Field: "name"},
		{Line: 6, EmployeeNo: "E5", Status: RowError, Field: "roles"},
		{Line: 7, Status: RowError},
		{Line: 8, EmployeeNo: "bad no", Status: RowError, Field: "employee_no"},
		{Line: 9, EmployeeNo: "E7", Status: RowCreated},
		{Line: 10, EmployeeNo: "e7", Status: RowError, Field: "employee_no"},
		{Line: 11, EmployeeNo: "E2", Status: RowUpdated},
	}}
	if diff := cmp.Diff(want, res, cmpopts.IgnoreFields(ImportRow{}, "Error")); diff != "" {
		t.Fatalf("result (-want +got):\n%s", diff)
	}
	for _, row := range res.Rows {
		if (row.Status == RowError) != (row.Error != "") {
			t.Fatalf("line %d: status %q with error %q", row.Line, row.Status, row.Error)
		}
	}
	t.Run("names the reason", func(t *testing.T) {
		if msg := res.Rows[7].Error; !strings.Contains(msg, "line 9") {
			t.Fatalf("duplicate message %q does not name the first line", msg)
		}
		if msg := res.Rows[1].Error; !strings.Contains(msg, "already in use") {
			t.Fatalf("conflict message %q", msg)
		}
	})
	t.Run("does not apply bad rows", func(t *testing.T) {
		if u := f.byEmployeeNo(t, "E1"); u.Department != "R&D" || u.Email != "zhang@example.com" {
			t.Fatalf("E1 half-applied: %+v", u)
		}
		for _, no := range []string{"E3", "E4", "E5"} {
			if _, err := f.users.keyOwner(f.ctx, empKey(no)); !apperr.Is(err, apperr.NotFound) {
				t.Fatalf("%s was created or left a claim: %v", no, err)
			}
		}
		if u := f.byEmployeeNo(t, "E7"); u.Name != "Qian" {
			t.Fatalf("E7 = %+v", u)
		}
	})
	t.Run("applies a corrected file", func(t *testing.T) {
		res := f.importCSV(t, "employee_no,name,email", "E3,Wang,wang@example.com")
		if res.Created != 1 {
			t.Fatalf("got %+v", res)
		}
	})
}

func TestImportRejectsBadFiles(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name  string
		lines []string
		code  apperr.Code
		field string
	}{
		{"rejects an unknown column", []string{"employee_no,name,phone", "E1,Zhang,123"}, apperr.Invalid, "phone"},
		{"rejects a repeated column", []string{"employee_no,name,Name", "E1,Zhang,Z"}, apperr.Invalid, "name"},
		{"rejects a file without a name column", []string{"employee_no,email", "E1,a@example.com"}, apperr.Invalid, "name"},
		{"rejects a file without an employee_no column", []string{"name", "Zhang"}, apperr.Invalid, "employee_no"},
		{"rejects an empty file", nil, apperr.Invalid, ""},
		{"rejects a CSV syntax error", []string{"employee_no,name", `E1,"Zh"ang`}, apperr.Invalid, ""},
		// The record has no field positions then: FieldPos panicked.
		{"rejects a CSV syntax error in the first column", []string{"employee_no,name", `E1"x,Alice`}, apperr.Invalid, ""},
		// 张三 in GBK, Excel's default CSV encoding in Chinese locales.
		{"rejects a file that is not UTF-8", []string{"employee_no,name", "E1,\xd5\xc5\xc8\xfd"}, apperr.Invalid, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := csvOf(tc.lines...)
			if tc.lines == nil {
				r = strings.NewReader("")
			}
			_, err := f.users.Import(f.ctx, f.admin, r)
			wantCode(t, err, tc.code, tc.field)
		})
	}
	t.Run("rejects more than 10000 rows before applying any", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("employee_no,name\n")
		for i := 0; i <= MaxImportRows; i++ {
			b.WriteString("E")
			b.WriteString(strings.Repeat("x", i%5))
			b.WriteString(",N\n")
		}
		_, err := f.users.Import(f.ctx, f.admin, strings.NewReader(b.String()))
		wantCode(t, err, apperr.TooLarge, "")
	})
	t.Run("applied nothing", func(t *testing.T) {
		if us, _, err := f.users.List(f.ctx, f.admin, ListFilter{}); err != nil || len(us) != 0 {
			t.Fatalf("got %d users, %v", len(us), err)
		}
	})
	t.Run("accepts a header with a byte-order mark", func(t *testing.T) {
		res := f.importCSV(t, "\ufeffemployee_no,name", "E1,Zhang")
		if res.Created != 1 {
			t.Fatalf("got %+v", res)
		}
	})
}

func TestImportProtectsTheActingAdmin(t *testing.T) {
	f := newFixture(t)
	me, p := f.realAdmin(t)
	res, err := f.users.Import(f.ctx, p, csvOf("employee_no,name,roles,status", "ADM1,Admin,admin,disabled", "adm1,Admin,ops,"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 2 || res.Rows[0].Field != "status" || res.Rows[1].Field != "employee_no" {
		t.Fatalf("got %+v", res)
	}
	res, _ = f.users.Import(f.ctx, p, csvOf("employee_no,name,roles", "ADM1,Admin,ops"))
	if res.Failed != 1 || res.Rows[0].Field != "roles" {
		t.Fatalf("got %+v", res)
	}
	if acc, _ := f.users.Account(f.ctx, me.ID); !acc.Active || !sameRoles(acc.Roles, roles(auth.RoleEmployee, auth.RoleAdmin)) {
		t.Fatalf("account %+v", acc)
	}
}
