package artifact

import (
	"bytes"
	"encoding/hex"
	"net/url"
	"strings"

	"howett.net/plist"

	"github.com/mportal/mportal/internal/apperr"
)

// ManifestInput describes the IPA an iOS over-the-air install manifest points at.
type ManifestInput struct {
	// URL downloads the IPA: absolute http(s). iOS installs only over https with a trusted
	// certificate; http is accepted here for development setups.
	URL string
	// BundleID is the app's CFBundleIdentifier.
	BundleID string
	// BundleVersion is the app's CFBundleShortVersionString.
	BundleVersion string
	// Title is shown while the app installs; empty means BundleID.
	Title string
	// SHA256 optionally holds the hex SHA-256 of the whole IPA, and Size its length in bytes;
	// give both or neither. The device then verifies the download (see ManifestPlist).
	SHA256 string
	Size   int64
}

// The manifest's structure, from Apple's enterprise deployment documentation.
type otaManifest struct {
	Items []otaItem `plist:"items"`
}

type otaItem struct {
	Assets   []otaAsset  `plist:"assets"`
	Metadata otaMetadata `plist:"metadata"`
}

type otaAsset struct {
	Kind       string   `plist:"kind"`
	URL        string   `plist:"url"`
	SHA256Size int64    `plist:"sha256-size,omitempty"`
	SHA256s    []string `plist:"sha256s,omitempty"`
}

type otaMetadata struct {
	BundleIdentifier string `plist:"bundle-identifier"`
	BundleVersion    string `plist:"bundle-version"`
	Kind             string `plist:"kind"`
	Title            string `plist:"title"`
}

// ManifestPlist returns the XML manifest.plist that an itms-services:// link downloads to
// install the IPA: one item whose software-package asset is in.URL. It is built with a plist
// encoder, not a text template, because presigned URLs contain '&', which XML must escape.
//
// Apple defines no whole-file hash key. It defines chunked ones: "sha256-size" (bytes per
// chunk) and "sha256s" (one hash per chunk), preferred over the older "md5-size"/"md5s". With
// SHA256 and Size set the manifest declares a single chunk as long as the file, whose hash is
// the file's; devices that predate the keys ignore them. It returns invalid for a missing or
// malformed input.
func ManifestPlist(in ManifestInput) ([]byte, error) {
	u, err := url.Parse(in.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, apperr.Field("url", "the IPA URL must be an absolute http(s) URL")
	}
	if !validPackageID(in.BundleID) {
		return nil, apperr.Field("bundle_id", "the bundle identifier is missing or malformed")
	}
	if _, ok := cleanVersion(in.BundleVersion, true); !ok {
		return nil, apperr.Field("bundle_version", "the bundle version is missing or malformed")
	}
	asset := otaAsset{Kind: "software-package", URL: in.URL}
	if in.SHA256 != "" || in.Size != 0 {
		sum, err := hex.DecodeString(in.SHA256)
		if err != nil || len(sum) != 32 {
			return nil, apperr.Field("sha256", "the SHA-256 must be 64 hexadecimal digits")
		}
		if in.Size <= 0 {
			return nil, apperr.Field("size", "the size must be positive when a SHA-256 is given")
		}
		asset.SHA256Size, asset.SHA256s = in.Size, []string{strings.ToLower(in.SHA256)}
	}
	title := cleanDisplayName(in.Title, in.BundleID)
	doc := otaManifest{Items: []otaItem{{
		Assets: []otaAsset{asset},
		Metadata: otaMetadata{BundleIdentifier: in.BundleID, BundleVersion: in.BundleVersion,
			Kind: "software", Title: title},
	}}}
	var buf bytes.Buffer
	enc := plist.NewEncoderForFormat(&buf, plist.XMLFormat)
	enc.Indent("\t")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// InstallURL returns the link that makes iOS download manifestURL and offer to install the
// app it describes.
func InstallURL(manifestURL string) string {
	return "itms-services://?action=download-manifest&url=" + url.QueryEscape(manifestURL)
}
