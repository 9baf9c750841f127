package console

import (
	"net/url"
	"strings"

	"github.com/mportal/mportal/internal/approval"
	"github.com/mportal/mportal/internal/feedback"
	"github.com/mportal/mportal/internal/release"
)

// FeedbackFilter is the feedback triage table's filter form, as the visitor filled it in.
type FeedbackFilter struct {
	Status, Category, Department, AppID, Q, From, To string
}

// query is the filter as a query string (without the empty fields), plus extra pairs.
func (f FeedbackFilter) query(extra ...string) string {
	v := url.Values{}
	for _, kv := range [][2]string{{"status", f.Status}, {"category", f.Category}, {"department", f.Department},
		{"app_id", f.AppID}, {"q", f.Q}, {"from", f.From}, {"to", f.To}} {
		if kv[1] != "" {
			v.Set(kv[0], kv[1])
		}
	}
	for i := 0; i+1 < len(extra); i += 2 {
		v.Set(extra[i], extra[i+1])
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// FeedbackList is the feedback triage table: one page of feedback, the filter that chose it and
// the links to the next page and to the CSV export of the same filter.
type FeedbackList struct {
	Filter FeedbackFilter
	Items  []feedback.Feedback
	// Next is the cursor of the next page ("" on the last); Paged says this is not the first.
	Next  string
	Paged bool
	// Apps are the apps to filter by; Statuses and Categories the values to filter by.
	Apps                 []release.App
	Statuses, Categories []string
}

// FirstURL is the first page of the table with the same filter.
func (l FeedbackList) FirstURL() string { return "/console/feedback" + l.Filter.query() }

// NextURL is the next page of the table with the same filter.
func (l FeedbackList) NextURL() string { return "/console/feedback" + l.Filter.query("cursor", l.Next) }

// ExportURL is the CSV export of the table's filter (every page).
func (l FeedbackList) ExportURL() string { return "/console/feedback.csv" + l.Filter.query() }

// Photo is one photo of feedback: its short-lived presigned URL when its upload is complete.
type Photo struct {
	feedback.Attachment
	URL string
}

// Person is a user who can be chosen (an assignee).
type Person struct{ ID, Name string }

// FeedbackDetail is one feedback with its photos, its conversation and the triage forms.
type FeedbackDetail struct {
	Item   *feedback.Feedback
	Photos []Photo
	// Statuses are the statuses the form offers: the ones the workflow allows from the current
	// one (the service checks again).
	Statuses []string
	// Assignees are the people the feedback can be assigned to.
	Assignees []Person
}

// Integrations is the approvals integrations list (admins).
type Integrations struct {
	Items []approval.Integration
}

// Deliveries is one integration's callback delivery log (admins), newest first.
type Deliveries struct {
	Source string
	Items  []approval.Delivery
}

// StatsRow is one line of the approval statistics table, with the figures ready to show.
type StatsRow struct {
	Name                               string
	Tasks, Approved, Rejected, Pending int
	RejectRate                         float64 // 0..1, for the meter
	RejectPercent, MedianStep, P90Step string
	Overdue                            int
}

// StatsTable is one table of the statistics screen; Key names it ("flows" or "nodes").
type StatsTable struct {
	Key  string
	Rows []StatsRow
}

// ApprovalStats is the approval statistics screen: the range form and the figures.
type ApprovalStats struct {
	From, To string // the range as YYYY-MM-DD (to exclusive)
	Total    StatsRow
	// Tables are the per-flow ("flows") and per-node ("nodes") figures.
	Tables      []StatsTable
	Approvers   []approval.ApproverStats
	HighestRate string // "flow / node: 40%" or ""
	Slowest     string
	CSV         string // the CSV export of the same range
}

// CSPAllowingImages is CSP with origins added to its img-src: the feedback detail shows photos
// from MinIO's presigned URLs, which live on MinIO's origin, not the console's.
func CSPAllowingImages(csp string, origins ...string) string {
	return CSPAllowing(csp, "img-src", origins...)
}

// CSPAllowing returns csp with origins added to its directive (e.g. "connect-src"), or the
// directive added with 'self' and origins when csp lacks it. A policy must name a directive
// once: a browser ignores every repeat of it.
func CSPAllowing(csp, directive string, origins ...string) string {
	if len(origins) == 0 {
		return csp
	}
	parts := strings.Split(csp, "; ")
	for i, p := range parts {
		if strings.HasPrefix(p, directive+" ") {
			parts[i] = p + " " + strings.Join(origins, " ")
			return strings.Join(parts, "; ")
		}
	}
	return csp + "; " + directive + " 'self' " + strings.Join(origins, " ")
}
