package announce

import "github.com/mportal/mportal/internal/auth"

// UsageRecorder records usage events announcements see (analytics.Recorder): reads and
// acknowledgements. Record must return at once and never fail the caller.
type UsageRecorder interface {
	Record(userID, deviceID, name string, props map[string]string)
}

func (s *Service) recordUsage(p *auth.Principal, name, announcementID string) {
	if s.Usage != nil {
		s.Usage.Record(p.UserID, p.DeviceID, name, map[string]string{"announcement_id": announcementID})
	}
}
