package directory

// UsageRecorder records usage events that the directory sees (analytics.Recorder): an app
// start at every device check-in. Record must return at once and never fail the caller.
type UsageRecorder interface {
	Record(userID, deviceID, name string, props map[string]string)
}
