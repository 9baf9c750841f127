package artifact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"

	"github.com/google/go-cmp/cmp"
	"howett.net/plist"

	"github.com/mportal/mportal/internal/apperr"
)

const presignedURL = "https://files.example.com/mportal-artifacts/ios/demo.ipa?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2F20250101&X-Amz-Signature=abc<>\"'"

func TestManifestPlist(t *testing.T) {
	sum := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		in   ManifestInput
		want otaManifest
	}{
		{
			name: "describes the package with the URL intact",
			in:   ManifestInput{URL: presignedURL, BundleID: artifacttest.DemoBundleID, BundleVersion: "2.0.1", Title: "Demo & Co"},
			want: otaManifest{Items: []otaItem{{
				Assets:   []otaAsset{{Kind: "software-package", URL: presignedURL}},
				Metadata: otaMetadata{BundleIdentifier: artifacttest.DemoBundleID, BundleVersion: "2.0.1", Kind: "software", Title: "Demo & Co"},
			}}},
		},
		{
			name: "declares the checksum as one chunk the size of the file",
			in: ManifestInput{URL: presignedURL, BundleID: artifacttest.DemoBundleID, BundleVersion: "2.0.1",
				SHA256: strings.ToUpper(sum), Size: 123456},
			want: otaManifest{Items: []otaItem{{
				Assets:   []otaAsset{{Kind: "software-package", URL: presignedURL, SHA256Size: 123456, SHA256s: []string{sum}}},
				Metadata: otaMetadata{BundleIdentifier: artifacttest.DemoBundleID, BundleVersion: "2.0.1", Kind: "software", Title: artifacttest.DemoBundleID},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := ManifestPlist(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Contains(doc, []byte("&amp;X-Amz-Credential")) {
				t.Errorf("the URL's & is not escaped as XML requires:\n%s", doc)
			}
			var got otaManifest
			format, err := plist.Unmarshal(doc, &got)
			if err != nil || format != plist.XMLFormat {
				t.Fatalf("decode: format %d, %v", format, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("manifest (-want +got):\n%s", diff)
			}
		})
	}
}

func TestManifestPlistRejectsBadInput(t *testing.T) {
	ok := ManifestInput{URL: presignedURL, BundleID: artifacttest.DemoBundleID, BundleVersion: "1.0"}
	tests := []struct {
		name   string
		modify func(*ManifestInput)
		field  string
	}{
		{"rejects a relative URL", func(in *ManifestInput) { in.URL = "/demo.ipa" }, "url"},
		{"rejects a non-web URL", func(in *ManifestInput) { in.URL = "file:///demo.ipa" }, "url"},
		{"rejects a missing bundle id", func(in *ManifestInput) { in.BundleID = "" }, "bundle_id"},
		{"rejects a missing version", func(in *ManifestInput) { in.BundleVersion = " " }, "bundle_version"},
		{"rejects a malformed checksum", func(in *ManifestInput) { in.SHA256, in.Size = "abc", 10 }, "sha256"},
		{"rejects a checksum without a size", func(in *ManifestInput) { in.SHA256 = strings.Repeat("0", 64) }, "size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok
			tt.modify(&in)
			_, err := ManifestPlist(in)
			if e, isApp := apperr.As(err); !isApp || e.Code != apperr.Invalid || e.Field != tt.field {
				t.Fatalf("ManifestPlist: %v; want invalid %s", err, tt.field)
			}
		})
	}
}

func TestInstallURL(t *testing.T) {
	got := InstallURL(presignedURL)
	rest, ok := strings.CutPrefix(got, "itms-services://?action=download-manifest&url=")
	if !ok {
		t.Fatalf("InstallURL = %q", got)
	}
	if strings.ContainsAny(rest, "&?= ") {
		t.Errorf("the manifest URL is not escaped: %q", rest)
	}
	u, err := url.Parse(got)
	if err != nil || u.Query().Get("url") != presignedURL || u.Query().Get("action") != "download-manifest" {
		t.Errorf("parsed back as %v (%v), query %v", u, err, u.Query())
	}
}

func TestSHA256(t *testing.T) {
	for _, size := range []int{0, 1, hashChunk - 1, hashChunk, 2*hashChunk + 17} {
		t.Run(fmt.Sprintf("hashes %d bytes", size), func(t *testing.T) {
			data := randomBytes(t, size)
			want := sha256.Sum256(data)
			got, err := SHA256(bytes.NewReader(data), int64(size))
			if err != nil || got != hex.EncodeToString(want[:]) {
				t.Errorf("SHA256 = %q, %v; want %x", got, err, want)
			}
		})
	}
	t.Run("reports data shorter than the size", func(t *testing.T) {
		if _, err := SHA256(bytes.NewReader([]byte("abc")), 4); err == nil {
			t.Fatal("SHA256 hashed 3 bytes as 4")
		}
	})
}
