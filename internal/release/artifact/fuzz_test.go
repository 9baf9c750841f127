package artifact

import (
	"bytes"
	"testing"

	"github.com/mportal/mportal/internal/release/artifact/artifacttest"

	"howett.net/plist"

	"github.com/mportal/mportal/internal/apperr"
)

// fuzzLimits keep each fuzz iteration small; the code paths are those of the defaults.
var fuzzLimits = Limits{MaxEntries: 1000, MaxDirectoryBytes: 1 << 20, MaxManifestBytes: 1 << 20,
	MaxResourcesBytes: 1 << 20, MaxIconBytes: 1 << 20}

// FuzzInspect feeds mutated builds to Inspect. Run it with a bounded minimisation, since
// minimising a few-kilobyte input tries millions of candidates:
//
//	go test -run '^$' -fuzz '^FuzzInspect$' -fuzztime 30s -fuzzminimizetime 200x ./internal/release/artifact/
//
// Whatever the bytes, Inspect must not panic, must fail only with invalid or too_large (the
// reader never fails), and must never return metadata that breaks its own rules.
func FuzzInspect(f *testing.F) {
	apk := artifacttest.DemoAPK(f)
	f.Add(apk.Bytes(f))
	apk.Resources = nil
	f.Add(apk.Bytes(f))
	ipa := artifacttest.DemoIPA(f)
	f.Add(ipa.Bytes(f))
	ipa.Format = plist.BinaryFormat
	f.Add(ipa.Bytes(f))
	f.Add([]byte("PK\x05\x06\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		md, err := Inspect(bytes.NewReader(data), int64(len(data)), fuzzLimits)
		if err != nil {
			if code := apperr.CodeOf(err); code != apperr.Invalid && code != apperr.TooLarge {
				t.Fatalf("Inspect failed with code %s: %v", code, err)
			}
			return
		}
		if (md.Platform != PlatformAndroid && md.Platform != PlatformIOS) || !validPackageID(md.PackageID) ||
			md.BuildNumber <= 0 || md.VersionName == "" || md.DisplayName == "" || (md.Icon != nil && !isPNG(md.Icon)) {
			t.Fatalf("Inspect returned inconsistent metadata %+v", md)
		}
	})
}

// FuzzParseManifest reaches the binary XML parser directly: through Inspect, almost every
// mutation fails the ZIP checksum first.
func FuzzParseManifest(f *testing.F) {
	f.Add(artifacttest.EncodeAXML(artifacttest.DemoManifest(), true))
	f.Add(artifacttest.EncodeAXML(artifacttest.DemoManifest(), false))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseManifest(data)
		if err == nil {
			_, _ = m.versionCode.int()
			_, _ = newResolver(nil).str(m.label)
		}
	})
}

// FuzzParseTable does the same for resources.arsc, resolving a fuzzed resource id.
func FuzzParseTable(f *testing.F) {
	f.Add(artifacttest.DemoResources(), uint32(artifacttest.ResAppName))
	f.Add(artifacttest.DemoResources(), uint32(artifacttest.ResIconAlias))
	f.Fuzz(func(t *testing.T, data []byte, id uint32) {
		table, err := parseTable(data)
		if err != nil {
			return
		}
		ref := value{present: true, typ: typeReference, data: id}
		r := newResolver(table)
		_, _ = r.str(ref)
		if files := r.iconFiles(ref); len(files) > maxIconCandidates {
			t.Fatalf("%d icon candidates, over the cap", len(files))
		}
	})
}
