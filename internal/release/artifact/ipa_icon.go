package artifact

import (
	"archive/zip"
	"cmp"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// maxIconNames bounds the icon names taken from Info.plist: each is matched against every
// entry, and real apps declare two or three.
const maxIconNames = 16

// names returns the icon name prefixes the plist declares, plus "AppIcon", the name Xcode
// gives asset-catalog icons ("AppIcon60x60@3x.png").
func (p iconPlist) names() []string {
	names := []string{"AppIcon"}
	names = append(names, p.Icons.Primary.Files...)
	names = append(names, p.IconsPad.Primary.Files...)
	names = append(names, p.IconFiles...)
	if p.IconFile != "" {
		names = append(names, p.IconFile)
	}
	out := names[:0]
	for _, n := range names {
		if n = strings.TrimSuffix(n, ".png"); n != "" && !strings.Contains(n, "/") && len(out) < maxIconNames {
			out = append(out, n)
		}
	}
	return out
}

// iconSize matches the point size and scale in icon file names: "60x60@3x", "83.5x83.5@2x".
var iconSize = regexp.MustCompile(`(\d+(?:\.\d+)?)x\d+(?:\.\d+)?(?:@(\d)x)?`)

// iconPixels estimates an icon's width in pixels from its file name, 0 when it has no size.
func iconPixels(file string) float64 {
	m := iconSize.FindStringSubmatch(file)
	if m == nil {
		return 0
	}
	points, _ := strconv.ParseFloat(m[1], 64)
	scale := 1.0
	if m[2] != "" {
		scale, _ = strconv.ParseFloat(m[2], 64)
	}
	return points * scale
}

// ipaIcon returns the largest icon PNG directly in the app directory whose name starts with
// one of names, or nil. Sizes come from the file names ("AppIcon60x60@3x.png" is 180 pixels
// wide), then from the uncompressed size; candidates over the icon limit are skipped.
func ipaIcon(a *archive, appDir string, names []string) ([]byte, error) {
	var candidates []*zip.File
	for _, f := range a.list {
		file, ok := strings.CutPrefix(f.Name, appDir)
		if !ok || strings.Contains(file, "/") || !strings.HasSuffix(strings.ToLower(file), ".png") ||
			f.UncompressedSize64 > uint64(a.limits.MaxIconBytes) {
			continue
		}
		if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(file, n) }) {
			candidates = append(candidates, f)
		}
	}
	slices.SortStableFunc(candidates, func(x, y *zip.File) int {
		px, py := iconPixels(x.Name[len(appDir):]), iconPixels(y.Name[len(appDir):])
		if c := cmp.Compare(py, px); c != 0 {
			return c
		}
		return cmp.Compare(y.UncompressedSize64, x.UncompressedSize64)
	})
	for i, f := range candidates {
		if i >= maxIconAttempts {
			break
		}
		data, err := a.readOptional(f.Name, a.limits.MaxIconBytes)
		if err != nil {
			return nil, err
		}
		if isPNG(data) {
			return data, nil
		}
	}
	return nil, nil
}
