package directory

import (
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	// The time zone database is embedded so that timezone validation does not depend on the host
	// (minimal container images ship without /usr/share/zoneinfo).
	_ "time/tzdata"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
	"github.com/mportal/mportal/internal/i18n"
)

// Defaults for a user's and a device's profile settings.
const (
	DefaultLocale   = "zh-CN"
	DefaultTimezone = "Asia/Shanghai"
)

const (
	maxEmployeeNo = 32
	maxName       = 100
	maxEmail      = 254
	maxDepartment = 100
	maxTimezone   = 64
)

func validEmployeeNo(s string) error {
	if s == "" || len(s) > maxEmployeeNo {
		return apperr.Field("employee_no", "employee_no must be 1 to %d characters", maxEmployeeNo)
	}
	for _, r := range s {
		if !isASCIIAlnum(r) && r != '_' && r != '.' && r != '-' {
			return apperr.Field("employee_no", "employee_no may only contain letters, digits, '_', '.' and '-'")
		}
	}
	return nil
}

func validName(s string) error {
	if s == "" || utf8.RuneCountInString(s) > maxName {
		return apperr.Field("name", "name must be 1 to %d characters", maxName)
	}
	if !printable(s) {
		return apperr.Field("name", "name must not contain control characters")
	}
	return nil
}

// validEmail accepts an empty address (e-mail is optional) or one bare address: no display name
// and no angle brackets, so that what is stored is exactly what a login types.
func validEmail(s string) error {
	if s == "" {
		return nil
	}
	if len(s) > maxEmail {
		return apperr.Field("email", "email must be at most %d characters", maxEmail)
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Name != "" || addr.Address != s {
		return apperr.Field("email", "email must be a plain address such as name@example.com")
	}
	return nil
}

func validDepartment(s string) error {
	if utf8.RuneCountInString(s) > maxDepartment {
		return apperr.Field("department", "department must be at most %d characters", maxDepartment)
	}
	if !printable(s) {
		return apperr.Field("department", "department must not contain control characters")
	}
	return nil
}

// normalizeRoles validates roles and returns them deduplicated, in auth.AllRoles order (so that
// equal role sets compare equal), always including employee.
func normalizeRoles(roles []auth.Role) ([]auth.Role, error) {
	set := map[auth.Role]bool{auth.RoleEmployee: true}
	for _, r := range roles {
		if !auth.ValidRole(r) {
			return nil, apperr.Field("roles", "unknown role %q", r)
		}
		set[r] = true
	}
	out := make([]auth.Role, 0, len(set))
	for _, r := range auth.AllRoles {
		if set[r] {
			out = append(out, r)
		}
	}
	return out, nil
}

// normalizeLocale returns the default for an empty locale.
func normalizeLocale(s, field string) (string, error) {
	if s == "" {
		return DefaultLocale, nil
	}
	if !slices.Contains(i18n.Locales, s) {
		return "", apperr.Field(field, "locale must be one of %s", strings.Join(i18n.Locales, ", "))
	}
	return s, nil
}

// normalizeTimezone returns the default for an empty time zone and otherwise requires an IANA
// name. "Local" is refused: it means the server's zone, which differs per host.
func normalizeTimezone(s, field string) (string, error) {
	if s == "" {
		return DefaultTimezone, nil
	}
	if len(s) > maxTimezone || s == "Local" {
		return "", apperr.Field(field, "timezone must be an IANA time zone such as Asia/Shanghai")
	}
	if _, err := time.LoadLocation(s); err != nil {
		return "", apperr.Field(field, "timezone must be an IANA time zone such as Asia/Shanghai")
	}
	return s, nil
}

func validStatus(s string) error {
	if s != StatusActive && s != StatusDisabled {
		return apperr.Field("status", "status must be %q or %q", StatusActive, StatusDisabled)
	}
	return nil
}

func isASCIIAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}
