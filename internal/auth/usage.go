package auth

// UsageRecorder records usage events that sign-in sees (analytics.Recorder): a sign_in at every
// successful login. Record must return at once and never fail the caller.
type UsageRecorder interface {
	Record(userID, deviceID, name string, props map[string]string)
}
