package directory

import (
	"slices"
	"testing"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

func TestList(t *testing.T) {
	f := newFixture(t)
	f.create(t, CreateUser{EmployeeNo: "E1", Name: "Zhang San", Department: "R&D", Email: "zhang@example.com"})
	f.create(t, CreateUser{EmployeeNo: "E2", Name: "Li Si", Department: "R&D", Roles: roles(auth.RoleApprover)})
	f.create(t, CreateUser{EmployeeNo: "E3", Name: "Wang Wu", Department: "Sales"})
	e4 := f.create(t, CreateUser{EmployeeNo: "E4", Name: "Zhao.Liu", Department: "Sales"})
	f.create(t, CreateUser{EmployeeNo: "E5", Name: "Zhaoxliu"})
	if _, err := f.users.Update(f.ctx, f.admin, e4.ID, UserUpdate{Status: ptr(StatusDisabled)}); err != nil {
		t.Fatal(err)
	}
	employeeNos := func(us []User) []string {
		out := []string{}
		for _, u := range us {
			out = append(out, u.EmployeeNo)
		}
		return out
	}
	t.Run("pages through everyone in creation order", func(t *testing.T) {
		var all []string
		cursor := ""
		for pages := 0; ; pages++ {
			us, next, err := f.users.List(f.ctx, f.admin, ListFilter{Limit: 2, Cursor: cursor})
			if err != nil || pages > 3 {
				t.Fatalf("page %d: %v", pages, err)
			}
			all = append(all, employeeNos(us)...)
			if next == "" {
				break
			}
			cursor = next
		}
		if want := []string{"E1", "E2", "E3", "E4", "E5"}; !slices.Equal(all, want) {
			t.Fatalf("got %v, want %v", all, want)
		}
	})
	filters := []struct {
		name   string
		filter ListFilter
		want   []string
	}{
		{"filters by department", ListFilter{Department: "R&D"}, []string{"E1", "E2"}},
		{"filters by role", ListFilter{Role: "approver"}, []string{"E2"}},
		{"filters by status", ListFilter{Status: StatusDisabled}, []string{"E4"}},
		{"searches names case-insensitively", ListFilter{Query: "zhang"}, []string{"E1"}},
		{"searches emails", ListFilter{Query: "@EXAMPLE"}, []string{"E1"}},
		{"searches employee numbers", ListFilter{Query: "e3"}, []string{"E3"}},
		{"treats the query as a literal, not a pattern", ListFilter{Query: "zhao.liu"}, []string{"E4"}},
		{"combines filters", ListFilter{Department: "Sales", Status: StatusActive}, []string{"E3"}},
	}
	for _, tc := range filters {
		t.Run(tc.name, func(t *testing.T) {
			us, next, err := f.users.List(f.ctx, f.admin, tc.filter)
			if err != nil || next != "" || !slices.Equal(employeeNos(us), tc.want) {
				t.Fatalf("got %v next %q err %v, want %v", employeeNos(us), next, err, tc.want)
			}
		})
	}
	invalid := []struct {
		name   string
		filter ListFilter
		field  string
	}{
		{"rejects a negative limit", ListFilter{Limit: -1}, "limit"},
		{"rejects an unknown role", ListFilter{Role: "king"}, "role"},
		{"rejects an unknown status", ListFilter{Status: "gone"}, "status"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := f.users.List(f.ctx, f.admin, tc.filter)
			wantCode(t, err, apperr.Invalid, tc.field)
		})
	}
	t.Run("never returns password hashes", func(t *testing.T) {
		us, _, _ := f.users.List(f.ctx, f.admin, ListFilter{})
		for _, u := range us {
			if u.PasswordHash != "" {
				t.Fatalf("%s: hash loaded", u.EmployeeNo)
			}
		}
		u, _ := f.users.Get(f.ctx, f.admin, us[0].ID)
		if u.PasswordHash == "" {
			t.Fatal("test needs a user with a hash")
		}
		assertNoJSONKey(t, u, "password_hash")
	})
}

func TestDepartments(t *testing.T) {
	f := newFixture(t)
	f.create(t, CreateUser{EmployeeNo: "E1", Name: "A", Department: "R&D"})
	f.create(t, CreateUser{EmployeeNo: "E2", Name: "B", Department: "R&D"})
	f.create(t, CreateUser{EmployeeNo: "E3", Name: "C", Department: "Sales"})
	f.create(t, CreateUser{EmployeeNo: "E4", Name: "D"})
	got, err := f.users.Departments(f.ctx, f.admin)
	want := []Department{{Name: "R&D", UserCount: 2}, {Name: "Sales", UserCount: 1}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}
