// Package csvcell defuses CSV cells that a spreadsheet would run as formulas (CSV injection).
// Every CSV export of text someone else typed (feedback, names from the OA, the audit log,
// training reports) writes its cells through Safe.
package csvcell

// Safe returns s with a leading quote when a spreadsheet would evaluate it: when it starts
// with = + - or @, or with a tab or carriage return, which some spreadsheets skip before
// looking for one (OWASP, "CSV Injection").
func Safe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r':
		return "'" + s
	}
	return s
}
