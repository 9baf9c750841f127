package push_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/mportal/mportal/push"
)

// BenchmarkFCMSenderSendEach500 sends 500-message batches through the real
// SDK to the fake on loopback; run it with -benchtime 100x for 50,000
// messages.
func BenchmarkFCMSenderSendEach500(b *testing.B) {
	s, fake := newSender(b)
	fake.SetCountOnly(true)
	batch := make([]push.Message, push.MaxBatch)
	for i := range batch {
		batch[i] = message("bench-token-" + strconv.Itoa(i))
		batch[i].Data = map[string]string{"notification_id": "n1"}
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.Send(ctx, batch)
		if err != nil {
			b.Fatal(err)
		}
		if res[len(res)-1].Outcome != push.Delivered {
			b.Fatalf("result %+v", res[len(res)-1])
		}
	}
	b.ReportMetric(float64(fake.Total())/b.Elapsed().Seconds(), "msgs/s")
}
