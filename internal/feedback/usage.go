package feedback

// UsageRecorder records usage events (analytics.Recorder): feedback created by its author's
// push, and feedback resolved (resolved or wont_fix) by an ops user. Record must return at
// once and never fail the caller.
type UsageRecorder interface {
	Record(userID, deviceID, name string, props map[string]string)
}

func (s *Service) recordUsage(userID, deviceID, name string, props map[string]string) {
	if s.Usage != nil {
		s.Usage.Record(userID, deviceID, name, props)
	}
}
