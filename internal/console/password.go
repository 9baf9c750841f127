package console

import "github.com/mportal/mportal/internal/auth"

// PasswordForm is the change-password form (templates/password.html): empty, or echoed back
// with the service's Problem and the Field it names.
type PasswordForm struct {
	Problem string
	Field   string
}

// Invalid reports whether the form's field name is the one the problem names.
func (f PasswordForm) Invalid(name string) bool { return f.Field == name }

// MinLength is the shortest new password the service accepts, for the form's hint.
func (PasswordForm) MinLength() int { return auth.MinPasswordLen }
