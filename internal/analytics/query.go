package analytics

import (
	"sort"
	"strings"
	"time"

	"github.com/RoaringBitmap/roaring/v2"

	"github.com/mportal/mportal/internal/apperr"
	"github.com/mportal/mportal/internal/auth"
)

// MaxRangeDays is the longest range a query covers.
const MaxRangeDays = 400

// Range is an inclusive range of UTC days, "2030-01-01".."2030-12-31".
type Range struct {
	From, To string
}

// Dimensions by which active users break down, as the API names them.
var dimensionPrefix = map[string]string{
	"department": "dept:", "role": "role:", "app": "app:", "build": "build:", "platform": "platform:",
}

// days checks the range and lists its days.
func (r Range) days() ([]string, error) {
	from, err := time.Parse(time.DateOnly, r.From)
	if err != nil {
		return nil, apperr.Field("from", "from must be a day, YYYY-MM-DD")
	}
	to, err := time.Parse(time.DateOnly, r.To)
	if err != nil {
		return nil, apperr.Field("to", "to must be a day, YYYY-MM-DD")
	}
	if to.Before(from) {
		return nil, apperr.Field("to", "to must not be before from")
	}
	n := int(to.Sub(from).Hours()/24) + 1
	if n > MaxRangeDays {
		return nil, apperr.Field("to", "a range covers at most %d days", MaxRangeDays)
	}
	out := make([]string, n)
	for i := range out {
		out[i] = from.AddDate(0, 0, i).Format(time.DateOnly)
	}
	return out, nil
}

// readable checks that p may read the numbers and returns r's days with the rollups read-locked;
// the caller runs unlock when done. It returns forbidden or invalid as the queries document.
func (s *Service) readable(p *auth.Principal, r Range) (days []string, unlock func(), err error) {
	s.init()
	if err := canRead(p); err != nil {
		return nil, nil, err
	}
	if days, err = r.days(); err != nil {
		return nil, nil, err
	}
	s.rollups.mu.RLock()
	return days, s.rollups.mu.RUnlock, nil
}

// canRead lets ops and admins read the numbers.
func canRead(p *auth.Principal) error {
	if !p.HasAnyRole(auth.RoleOps, auth.RoleAdmin) {
		return apperr.New(apperr.Forbidden, "only ops and admins read usage metrics")
	}
	return nil
}

// dimKey turns the API's dimension and value into a rollup key; "" and "" is everyone.
func dimKey(dimension, value string) (string, error) {
	if dimension == "" {
		if value != "" {
			return "", apperr.Field("dimension", "value needs a dimension")
		}
		return "all", nil
	}
	prefix, ok := dimensionPrefix[dimension]
	if !ok {
		return "", apperr.Field("dimension", "dimension must be department, role, app, build or platform")
	}
	if value == "" || len(value) > 200 {
		return "", apperr.Field("value", "a dimension needs a value (build is app/build)")
	}
	return prefix + value, nil
}

// ActiveDay is one day of an active-users series. WAU and MAU are the distinct users of the 7
// and 30 days that end on the day.
type ActiveDay struct {
	Day    string  `json:"day"`
	DAU    int     `json:"dau"`
	WAU    int     `json:"wau"`
	MAU    int     `json:"mau"`
	DAUMAU float64 `json:"dau_mau"` // DAU / MAU, 0 without users
}

// ActiveUsers is the answer for a range: exact distinct users and devices over the whole range
// (not a sum of days) and the daily series.
type ActiveUsers struct {
	From      string      `json:"from"`
	To        string      `json:"to"`
	Dimension string      `json:"dimension,omitempty"`
	Value     string      `json:"value,omitempty"`
	Users     int         `json:"users"`
	Devices   int         `json:"devices"`
	Days      []ActiveDay `json:"days"`
}

// ActiveUsers counts distinct active users over r, for everyone or for one value of a dimension.
// It returns forbidden for callers other than ops and admins and invalid naming the parameter.
func (s *Service) ActiveUsers(p *auth.Principal, r Range, dimension, value string) (*ActiveUsers, error) {
	s.init()
	if err := canRead(p); err != nil {
		return nil, err
	}
	days, err := r.days()
	if err != nil {
		return nil, err
	}
	key, err := dimKey(dimension, value)
	if err != nil {
		return nil, err
	}
	// The 29 days before the range feed the first days' MAU.
	first, _ := time.Parse(time.DateOnly, days[0])
	all := make([]string, 0, len(days)+29)
	for i := 29; i > 0; i-- {
		all = append(all, first.AddDate(0, 0, -i).Format(time.DateOnly))
	}
	all = append(all, days...)

	s.rollups.mu.RLock()
	defer s.rollups.mu.RUnlock()
	users := make([]*roaring.Bitmap, len(all))
	empty := roaring.New()
	for i, d := range all {
		users[i] = empty
		if a := s.rollups.get(d, key); a != nil {
			users[i] = a.users
		}
	}
	out := &ActiveUsers{From: r.From, To: r.To, Dimension: dimension, Value: value, Days: make([]ActiveDay, len(days))}
	wau, mau := windowed(users, 7), windowed(users, 30)
	for i := range days {
		at := i + 29
		ad := ActiveDay{Day: days[i], DAU: int(users[at].GetCardinality()), WAU: wau[at], MAU: mau[at]}
		if ad.MAU > 0 {
			ad.DAUMAU = float64(ad.DAU) / float64(ad.MAU)
		}
		out.Days[i] = ad
	}
	out.Users = distinct(users[29:])
	devices := make([]*roaring.Bitmap, 0, len(days))
	for _, d := range days {
		if a := s.rollups.get(d, key); a != nil {
			devices = append(devices, a.devices)
		}
	}
	out.Devices = distinct(devices)
	return out, nil
}

// Breakdown is the distinct users (and devices) of each value of a dimension over a range.
type Breakdown struct {
	Value   string `json:"value"`
	Users   int    `json:"users"`
	Devices int    `json:"devices"`
}

// BreakdownBy counts distinct users over r for every value of dimension seen in the range,
// most users first. Errors as ActiveUsers.
func (s *Service) BreakdownBy(p *auth.Principal, r Range, dimension string) ([]Breakdown, error) {
	s.init()
	if err := canRead(p); err != nil {
		return nil, err
	}
	days, err := r.days()
	if err != nil {
		return nil, err
	}
	prefix, ok := dimensionPrefix[dimension]
	if !ok {
		return nil, apperr.Field("dimension", "dimension must be department, role, app, build or platform")
	}
	s.rollups.mu.RLock()
	defer s.rollups.mu.RUnlock()
	users, devices := map[string][]*roaring.Bitmap{}, map[string][]*roaring.Bitmap{}
	for _, d := range days {
		for k, a := range s.rollups.days[d] {
			if v, ok := strings.CutPrefix(k, prefix); ok {
				users[v] = append(users[v], a.users)
				devices[v] = append(devices[v], a.devices)
			}
		}
	}
	out := make([]Breakdown, 0, len(users))
	for v, bms := range users {
		out = append(out, Breakdown{Value: v, Users: distinct(bms), Devices: distinct(devices[v])})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Users != out[j].Users {
			return out[i].Users > out[j].Users
		}
		return out[i].Value < out[j].Value
	})
	return out, nil
}
