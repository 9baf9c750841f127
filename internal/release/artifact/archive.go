package artifact

import (
	"archive/zip"
	"errors"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/mportal/mportal/internal/apperr"
)

// archive is an opened, checked ZIP archive: every entry name is safe and unique.
type archive struct {
	src    *source
	limits Limits
	list   []*zip.File          // in directory order
	files  map[string]*zip.File // by name
}

// openArchive reads and checks the central directory: at most limits.MaxEntries entries and
// limits.MaxDirectoryBytes bytes, no unsafe or duplicate names.
func openArchive(r io.ReaderAt, size int64, limits Limits) (*archive, error) {
	s := &source{r: r, size: size}
	ext, tail, err := locateDirectory(s)
	if err != nil {
		return nil, err
	}
	if err := checkDirectory(ext, size, limits); err != nil {
		return nil, err
	}
	dir := tail
	if tailOff := size - int64(len(tail)); ext.start < tailOff {
		dir = make([]byte, size-ext.start)
		if err := s.readFull(dir[:tailOff-ext.start], ext.start); err != nil {
			return nil, err
		}
		copy(dir[tailOff-ext.start:], tail)
	} else {
		dir = tail[ext.start-tailOff:]
	}
	s.dir, s.dirOff, s.strict = dir, ext.start, true
	zr, err := zip.NewReader(s, size)
	s.dir, s.strict = nil, false
	// ErrInsecurePath comes with a usable reader; names are checked below, stricter.
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, s.fail(err, errNotZip())
	}
	if len(zr.File) > limits.MaxEntries {
		return nil, apperr.New(apperr.TooLarge, "the archive has more than %d entries", limits.MaxEntries)
	}
	a := &archive{src: s, limits: limits, list: zr.File, files: make(map[string]*zip.File, len(zr.File))}
	for _, f := range zr.File {
		if !safeName(f.Name) {
			return nil, apperr.New(apperr.Invalid, "the archive contains an unsafe file name %s", quote(f.Name))
		}
		if _, dup := a.files[f.Name]; dup {
			// Two entries with one name let two readers see two different apps (the 2013
			// "Master Key" Android bug); Android itself refuses such APKs.
			return nil, apperr.New(apperr.Invalid, "the archive contains %s more than once", quote(f.Name))
		}
		a.files[f.Name] = f
	}
	return a, nil
}

// safeName reports whether name is a plain relative path: no absolute paths, no "." or ".."
// elements, no empty elements, no backslashes or NULs. Nothing is extracted to disk, but a
// name that other tools normalise differently ("./AndroidManifest.xml") could make mportal
// read one file while a device installs another.
func safeName(name string) bool {
	if name == "" || strings.ContainsAny(name, "\x00\\") || strings.HasPrefix(name, "/") {
		return false
	}
	trimmed := strings.TrimSuffix(name, "/") // directories end in a slash
	if trimmed == "" || path.Clean(trimmed) != trimmed {
		return false
	}
	for _, elem := range strings.Split(trimmed, "/") {
		if elem == ".." {
			return false
		}
	}
	return true
}

// iosAppDir returns the app directory of an IPA ("Payload/Demo.app/"), or "" when the archive
// has no Payload/*.app/Info.plist. An IPA holds exactly one app: with two, which one a device
// installs is not what mportal read, so that is invalid.
func (a *archive) iosAppDir() (string, error) {
	apps := map[string]bool{} // app directory -> has Info.plist
	for _, f := range a.list {
		rest, ok := strings.CutPrefix(f.Name, "Payload/")
		if !ok {
			continue
		}
		dir, inner, nested := strings.Cut(rest, "/")
		if !nested || !strings.HasSuffix(dir, ".app") || len(dir) == len(".app") {
			continue
		}
		apps[dir] = apps[dir] || inner == "Info.plist"
	}
	app, plists := "", 0
	for dir, hasPlist := range apps {
		if hasPlist {
			app, plists = dir, plists+1
		}
	}
	switch {
	case plists == 0:
		return "", nil
	case len(apps) > 1:
		return "", apperr.New(apperr.Invalid, "the IPA contains more than one app in Payload/")
	}
	return "Payload/" + app + "/", nil
}

// quote renders a name from the archive for an error message: quoted, and cut short, since
// names can be 64 KiB long.
func quote(name string) string {
	const maxLen = 80
	if len(name) > maxLen {
		name = name[:maxLen] + "..."
	}
	return strconv.Quote(name)
}
