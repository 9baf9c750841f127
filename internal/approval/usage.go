package approval

// UsageRecorder records usage events (analytics.Recorder): one approval_decided per decision
// made in the app (the one that won the task's claim; replays and losers record nothing).
// Record must return at once and never fail the caller.
type UsageRecorder interface {
	Record(userID, deviceID, name string, props map[string]string)
}

func (s *Service) recordDecision(d *Decision) {
	if s.Usage != nil {
		s.Usage.Record(d.ByUserID, d.DeviceID, "approval_decided", map[string]string{"action": d.Action, "flow_code": d.FlowCode})
	}
}
