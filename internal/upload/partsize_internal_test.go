package upload

import "testing"

func TestPartsAreOneSize(t *testing.T) {
	for _, tc := range []struct {
		name       string
		configured int64
		want       int64
	}{
		{"the default", 0, DefaultPartSize},
		{"a configured size", 16 << 20, 16 << 20},
		{"a size below S3's minimum is raised to it", 1 << 20, minPartSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newS3Store(Config{PartSize: tc.configured, S3: S3Config{Endpoint: "127.0.0.1:9", Bucket: "b"}})
			if store.MinPartSize != tc.want || store.PreferredPartSize != tc.want {
				t.Fatalf("min part %d, preferred part %d; want both %d", store.MinPartSize, store.PreferredPartSize, tc.want)
			}
		})
	}
}
