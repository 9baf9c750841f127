package push

import (
	"context"
	"fmt"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"

	"github.com/mportal/mportal/internal/clock"
)

// fcmScope is the only OAuth scope the sender needs.
const fcmScope = "https://www.googleapis.com/auth/firebase.messaging"

// FCMSender sends messages through Firebase Cloud Messaging (HTTP v1 API)
// with the Firebase Admin SDK. It is safe for concurrent use.
type FCMSender struct {
	client *messaging.Client
	// Now is the clock for APNs expiration times and Retry-After dates; nil means time.Now.
	Now clock.Func
}

var _ Sender = (*FCMSender)(nil)

// NewFCMSender creates a sender authenticated with the service-account JSON
// in credentialsFile, whose project_id selects the Firebase project. An
// empty credentialsFile leaves authentication to opts (or to application
// default credentials). opts come last and win; tests point the sender at a
// fake with option.WithEndpoint and option.WithCredentials (see fcmfake).
//
// The returned sender does not let the SDK retry 503 responses itself (see
// noSDKRetry): a Retry Result comes back at once and the outbox backs off.
func NewFCMSender(ctx context.Context, credentialsFile string, opts ...option.ClientOption) (*FCMSender, error) {
	// Telemetry off: mportal configures no OpenTelemetry, and the SDK's HTTP instrumentation
	// cost about 6% of the CPU of a 50,000-device fan-out.
	all := []option.ClientOption{option.WithScopes(fcmScope), option.WithTelemetryDisabled()}
	if credentialsFile != "" {
		all = append(all, option.WithCredentialsFile(credentialsFile))
	}
	all = append(all, opts...)
	// Build the authenticated client here, rather than in the SDK, to wrap
	// its transport; the SDK then uses it as given.
	hc, _, err := htransport.NewClient(ctx, all...)
	if err != nil {
		return nil, fmt.Errorf("fcm sender: http client: %w", err)
	}
	all = append(all, option.WithHTTPClient(withoutSDKRetry(hc)))
	// An empty config makes the SDK read the project id from the
	// credentials instead of the FIREBASE_CONFIG environment variable.
	app, err := firebase.NewApp(ctx, &firebase.Config{}, all...)
	if err != nil {
		return nil, fmt.Errorf("fcm sender: firebase app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcm sender: messaging client: %w", err)
	}
	return &FCMSender{client: client}, nil
}

// Send sends msgs with one SendEach call (one HTTP request per message, 50
// at a time) and maps each outcome; see Sender. A message without a token is
// Failed with reason "NO_TOKEN" without being sent, because the SDK would
// reject the whole batch for it.
func (s *FCMSender) Send(ctx context.Context, msgs []Message) ([]Result, error) {
	if len(msgs) > MaxBatch {
		return nil, fmt.Errorf("fcm send: %d messages exceed the batch limit of %d", len(msgs), MaxBatch)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("fcm send: %w", err)
	}
	now := s.Now.UTC()
	results := make([]Result, len(msgs))
	batch := make([]*messaging.Message, 0, len(msgs))
	index := make([]int, 0, len(msgs)) // batch position -> msgs position
	for i := range msgs {
		if msgs[i].Token == "" {
			results[i] = Result{Outcome: Failed, Reason: "NO_TOKEN"}
			continue
		}
		batch = append(batch, fcmMessage(&msgs[i], now))
		index = append(index, i)
	}
	if len(batch) == 0 {
		return results, nil
	}
	resp, err := s.client.SendEach(ctx, batch)
	if err != nil {
		// SendEach fails as a whole only when it rejects a message
		// before sending anything.
		return nil, fmt.Errorf("fcm send: %w", err)
	}
	for j, r := range resp.Responses {
		if r.Success {
			results[index[j]] = Result{Outcome: Delivered}
		} else {
			results[index[j]] = classify(r.Error, now)
		}
	}
	return results, nil
}
