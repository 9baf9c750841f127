package artifact

import (
	"archive/zip"
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"hash/crc32"
	"io"

	"github.com/mportal/mportal/internal/apperr"
)

// maxReadChunk is the largest single read of compressed data. Reads on object storage are
// ranged GETs, so reading through a small buffer would cost one request per few kilobytes.
const maxReadChunk = 1 << 20

// errTooLarge marks an entry whose size is over the caller's limit; callers that can do
// without the entry (icons) skip it, the others report it.
type errTooLarge struct{ name string }

func (e *errTooLarge) Error() string { return "artifact: " + e.name + " is over its size limit" }

// read returns the uncompressed bytes of the entry called name, at most limit of them.
//
// The sizes in the directory are treated as a claim to verify, not a fact: the declared size
// must be within limit, decompression stops one byte past it, and the result must match both
// the declared size and CRC-32. A zip bomb that declares its real size is refused before any
// decompression; one that declares a small size is caught after reading one byte more than it
// declared.
func (a *archive) read(name string, limit int64) ([]byte, error) {
	f := a.files[name]
	if f == nil {
		return nil, apperr.New(apperr.Invalid, "the archive has no %s", quote(name))
	}
	if f.Flags&0x1 != 0 {
		return nil, apperr.New(apperr.Invalid, "%s is encrypted", quote(name))
	}
	if f.Method != zip.Store && f.Method != zip.Deflate {
		return nil, apperr.New(apperr.Invalid, "%s uses an unsupported compression method", quote(name))
	}
	if f.UncompressedSize64 > uint64(limit) {
		return nil, apperr.Wrap(&errTooLarge{name}, apperr.TooLarge, "%s is larger than %d bytes", quote(name), limit)
	}
	if !plausibleSizes(f, a.src.size) {
		return nil, errCorrupt(name)
	}
	raw, err := f.OpenRaw()
	if err != nil {
		return nil, a.src.fail(err, errCorrupt(name))
	}
	bufSize := int(min(max(f.CompressedSize64, 4096), maxReadChunk))
	var r io.Reader = bufio.NewReaderSize(raw, bufSize)
	if f.Method == zip.Deflate {
		fr := flate.NewReader(r)
		defer fr.Close()
		r = fr
	}
	var buf bytes.Buffer
	buf.Grow(int(f.UncompressedSize64) + 1)
	if _, err := buf.ReadFrom(io.LimitReader(r, int64(f.UncompressedSize64)+1)); err != nil {
		return nil, a.src.fail(err, errCorrupt(name))
	}
	data := buf.Bytes()
	if uint64(len(data)) != f.UncompressedSize64 || crc32.ChecksumIEEE(data) != f.CRC32 {
		return nil, errCorrupt(name)
	}
	return data, nil
}

// maxDeflateRatio is the most deflate can expand: a 258-byte match costs at least two bits.
const maxDeflateRatio = 1032

// plausibleSizes reports whether f's directory sizes can be true: its compressed bytes fit in
// the file, and its uncompressed size is reachable from them. Checking first keeps a lying
// header from making read allocate for data that cannot exist.
func plausibleSizes(f *zip.File, fileSize int64) bool {
	if f.CompressedSize64 > uint64(fileSize) {
		return false
	}
	if f.Method == zip.Store {
		return f.UncompressedSize64 == f.CompressedSize64
	}
	return f.UncompressedSize64 <= f.CompressedSize64*maxDeflateRatio+1024
}

// errCorrupt is the error for an entry whose bytes do not match its directory record.
func errCorrupt(name string) *apperr.Error {
	return apperr.New(apperr.Invalid, "%s is corrupt", quote(name))
}

// readOptional is read for entries the build can do without: it returns nil, nil when the
// entry is missing or over limit, and other errors as read does.
func (a *archive) readOptional(name string, limit int64) ([]byte, error) {
	if a.files[name] == nil {
		return nil, nil
	}
	data, err := a.read(name, limit)
	if _, over := errors.AsType[*errTooLarge](err); over {
		return nil, nil
	}
	return data, err
}
