package artifact

import (
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mportal/mportal/internal/apperr"
)

// errOutsideDirectory stops archive/zip when it wanders outside the bytes that the central
// directory was found to occupy: only a malformed archive makes it do that.
var errOutsideDirectory = errors.New("artifact: read outside the central directory")

// source is the io.ReaderAt archive/zip reads through. It does two jobs:
//
//   - It remembers the first error the caller's reader returned. archive/zip and the
//     decompressors turn any read error into their own failure; source lets Inspect report
//     "storage unavailable" as that, not as "corrupt archive".
//   - It serves the central directory from one buffer read in a single call. archive/zip reads
//     the directory in 4 KiB pieces, and each ReadAt on object storage is a ranged GET.
type source struct {
	r    io.ReaderAt
	size int64

	// dir holds the file's bytes from dirOff to the end while zip.NewReader runs; strict makes
	// every other read fail meanwhile. Both are set and cleared around that call only, on the
	// goroutine that makes it.
	dir    []byte
	dirOff int64
	strict bool

	mu  sync.Mutex
	err error // first error from r other than io.EOF
}

// ReadAt implements io.ReaderAt.
func (s *source) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, errors.New("artifact: negative offset")
	}
	if s.dir != nil && off >= s.dirOff {
		n := 0
		if off-s.dirOff < int64(len(s.dir)) {
			n = copy(p, s.dir[off-s.dirOff:])
		}
		if n < len(p) {
			return n, io.EOF
		}
		return n, nil
	}
	if s.strict {
		return 0, errOutsideDirectory
	}
	if off >= s.size {
		return 0, io.EOF
	}
	n, err := s.r.ReadAt(p, off)
	if err != nil && !errors.Is(err, io.EOF) {
		s.mu.Lock()
		if s.err == nil {
			s.err = err
		}
		s.mu.Unlock()
	}
	return n, err
}

// fail returns the error to report for a failure cause that surfaced while reading: the
// reader's own error if it returned one, else the archive's fault, invalid.
func (s *source) fail(cause error, invalid *apperr.Error) error {
	s.mu.Lock()
	readErr := s.err
	s.mu.Unlock()
	if readErr != nil {
		return fmt.Errorf("read the archive: %w", readErr)
	}
	invalid.Err = cause
	return invalid
}

// readFull reads len(p) bytes at off from the caller's reader, reporting a short file as
// invalid: sizes come from the archive, so a read past the end means the archive lies.
func (s *source) readFull(p []byte, off int64) error {
	n, err := s.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return s.fail(err, errNotZip())
}

// errNotZip is the error for anything that is not a readable ZIP archive: random bytes, a
// truncated upload, a mangled directory.
func errNotZip() *apperr.Error {
	return apperr.New(apperr.Invalid, "the file is not a valid ZIP archive (APK or IPA)")
}
