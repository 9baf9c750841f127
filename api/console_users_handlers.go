package api

import (
	"bytes"
	"io"
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/console"
	"github.com/mportal/mportal/internal/directory"
)

// The admins' user screens of the console: create, CSV import, one user's roles, password,
// sessions and devices. Each change calls the directory service the API's /v1/admin/users
// routes call and is audited; consoleAdmin keeps ops out and the service checks the role again.

// consoleFormProblem shows a client mistake (invalid, conflict, too large) on the page that
// render draws, with the status of the API's one error mapping, so the admin can correct the
// form; any other error goes to the error handler.
func (s *Server) consoleFormProblem(c *fiber.Ctx, err error, render func(status int, problem string) error) error {
	e, ok := apperr.As(err)
	if !ok || (e.Code != apperr.Invalid && e.Code != apperr.Conflict && e.Code != apperr.TooLarge) {
		return err
	}
	p, _, _ := problemFor(err)
	problem := e.Message
	if e.Field != "" && !strings.Contains(problem, e.Field) {
		problem = e.Field + ": " + problem
	}
	return render(p.Status, problem)
}

// formRoles reads the checked role boxes of a form.
func formRoles(c *fiber.Ctx) []auth.Role {
	var roles []auth.Role
	for _, v := range c.Request().PostArgs().PeekMulti("roles") {
		roles = append(roles, auth.Role(v))
	}
	return roles
}

// consoleCreateUser creates a user with Directory.Create and shows the one-time password once,
// in this response only (never stored, never audited).
func (s *Server) consoleCreateUser(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	in := console.NewUser{EmployeeNo: c.FormValue("employee_no"), Name: c.FormValue("name"),
		Email: c.FormValue("email"), Department: c.FormValue("department"), Roles: formRoles(c)}
	u, otp, err := s.deps.Directory.Create(ctx, p, directory.CreateUser{EmployeeNo: in.EmployeeNo, Name: in.Name,
		Email: in.Email, Department: in.Department, Roles: in.Roles})
	if err != nil {
		return s.consoleFormProblem(c, err, func(status int, problem string) error {
			return s.renderConsole(c, status, "users", console.Page{Title: "users", Nav: "users",
				Data: console.UsersData{New: in, Problem: problem, Roles: auth.AllRoles}})
		})
	}
	s.audit(c, p, "user.create", u.ID, nil, u)
	return s.renderConsole(c, fiber.StatusCreated, "user_password", console.Page{Title: "user_created", Nav: "users",
		Data: console.PasswordData{User: *u, OneTimePassword: otp}})
}

// consoleImportUsers imports a CSV file (a multipart upload, at most the API's import limit)
// with Directory.Import, the API's import, and shows the outcome of every row.
func (s *Server) consoleImportUsers(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	render := func(status int, problem string, res *directory.ImportResult) error {
		return s.renderConsole(c, status, "users_import", console.Page{Title: "import_users", Nav: "users",
			Data: console.ImportData{Result: res, Problem: problem, Limit: s.deps.Config.ImportLimit}})
	}
	body, err := s.consoleUploadedCSV(c)
	if err == nil {
		var res *directory.ImportResult
		if res, err = s.deps.Directory.Import(ctx, p, bytes.NewReader(body)); err == nil {
			s.audit(c, p, "user.import", "users", nil, importSummary(res))
			return render(fiber.StatusOK, "", res)
		}
	}
	return s.consoleFormProblem(c, err, func(status int, problem string) error { return render(status, problem, nil) })
}

// consoleUploadedCSV returns the form's file, refusing a missing or oversized one.
func (s *Server) consoleUploadedCSV(c *fiber.Ctx) ([]byte, error) {
	fh, err := c.FormFile("file")
	if err != nil {
		return nil, apperr.Field("file", "choose a CSV file to import")
	}
	if fh.Size > int64(s.deps.Config.ImportLimit) {
		return nil, &apperr.Error{Code: apperr.TooLarge, Field: "file", Message: "the CSV file is over the import limit"}
	}
	f, err := fh.Open()
	if err != nil {
		return nil, apperr.Field("file", "the uploaded file cannot be read")
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, int64(s.deps.Config.ImportLimit)+1))
}

// importSummary is what the audit log keeps of an import: the counts and the employee numbers
// each outcome applied to (failed rows changed nothing).
func importSummary(res *directory.ImportResult) map[string]any {
	by := map[string][]string{}
	for _, r := range res.Rows {
		if r.Status != directory.RowError && r.Status != directory.RowUnchanged {
			by[r.Status] = append(by[r.Status], r.EmployeeNo)
		}
	}
	return map[string]any{"created": res.Created, "updated": res.Updated, "unchanged": res.Unchanged,
		"failed": res.Failed, "employee_nos": by}
}

// consoleUpload lets a file upload (multipart/form-data) through the same anti-forgery checks
// as consoleChange.
func (s *Server) consoleUpload(c *fiber.Ctx) error {
	if mt, _, _ := mime.ParseMediaType(c.Get(fiber.HeaderContentType)); mt != fiber.MIMEMultipartForm {
		return apperr.New(apperr.UnsupportedMedia, "Content-Type must be %s", fiber.MIMEMultipartForm)
	}
	if !s.validConsolePost(c) {
		return apperr.New(apperr.Forbidden, "the form has expired: reload the page and submit it again")
	}
	return c.Next()
}

// consoleUser shows one user: profile, roles, password reset, sessions and devices.
func (s *Server) consoleUser(c *fiber.Ctx) error {
	return s.renderConsoleUser(c, fiber.StatusOK, "")
}

func (s *Server) renderConsoleUser(c *fiber.Ctx, status int, problem string) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("user_id")
	u, err := s.deps.Directory.Get(ctx, p, id)
	if err != nil {
		return err
	}
	devices, err := s.deps.Devices.OfUser(ctx, p, id)
	if err != nil {
		return err
	}
	return s.renderConsole(c, status, "user", console.Page{Title: "user", Nav: "users",
		Data: console.UserData{User: *u, Devices: devices, Roles: auth.AllRoles, Problem: problem}})
}

// consoleUserRoles replaces a user's roles with the checked boxes (Directory.SetRoles).
func (s *Server) consoleUserRoles(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("user_id")
	before, err := s.deps.Directory.Get(ctx, p, id)
	if err != nil {
		return err
	}
	after, err := s.deps.Directory.SetRoles(ctx, p, id, formRoles(c))
	if err != nil {
		return s.consoleFormProblem(c, err, func(status int, problem string) error {
			return s.renderConsoleUser(c, status, problem)
		})
	}
	s.audit(c, p, "user.roles", id, before.Roles, after.Roles)
	return consoleDone(c, "/console/users/"+id)
}

// consoleResetPassword gives the user a one-time password (Directory.ResetPassword, which also
// ends their sessions) and shows it once, in this response only.
func (s *Server) consoleResetPassword(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("user_id")
	otp, err := s.deps.Directory.ResetPassword(ctx, p, id)
	if err != nil {
		return err
	}
	u, err := s.deps.Directory.Get(ctx, p, id)
	if err != nil {
		return err
	}
	s.audit(c, p, "user.password_reset", id, nil,
		map[string]any{"must_change_password": true, "sessions": "revoked"})
	return s.renderConsole(c, fiber.StatusOK, "user_password", console.Page{Title: "password_reset", Nav: "users",
		Data: console.PasswordData{User: *u, OneTimePassword: otp}})
}

// consoleRevokeSessions ends every session of the user (Directory.RevokeSessions).
func (s *Server) consoleRevokeSessions(c *fiber.Ctx) error {
	ctx, p, id := c.UserContext(), principal(c), c.Params("user_id")
	if err := s.deps.Directory.RevokeSessions(ctx, p, id); err != nil {
		return err
	}
	s.audit(c, p, "user.revoke_sessions", id, nil, map[string]string{"sessions": "revoked"})
	return consoleDone(c, "/console/users/"+id)
}
