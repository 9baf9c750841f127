package training

import "github.com/mportal/mportal/internal/auth"

// UsageRecorder records usage events (analytics.Recorder). Record must return at once and never
// fail the caller.
type UsageRecorder interface {
	Record(userID, deviceID, name string, props map[string]string)
}

func (s *Service) recordUsage(p *auth.Principal, name, videoID string) {
	if s.Usage != nil {
		s.Usage.Record(p.UserID, p.DeviceID, name, map[string]string{"video_id": videoID})
	}
}
