package artifact

import (
	"encoding/binary"

	"github.com/mportal/mportal/internal/apperr"
)

// ZIP record layouts (APPNOTE.TXT 4.3.14-4.3.16).
const (
	eocdSignature     = 0x06054b50
	eocdLen           = 22
	zip64LocSignature = 0x07064b50
	zip64LocLen       = 20
	zip64EndSignature = 0x06064b50
	zip64EndLen       = 56
	// tailLen is how far from the end archive/zip looks for the end record: the record plus
	// the longest possible comment fit in it.
	tailLen = 65 * 1024
)

// directoryExtent is what the end-of-central-directory record says about the directory.
type directoryExtent struct {
	entries uint64 // number of entries the archive claims
	start   int64  // offset of the first byte archive/zip will read for the directory
}

// locateDirectory reads the end of the file once and finds the central directory the way
// archive/zip will, so that its size and entry count are checked before archive/zip
// allocates anything for them. It returns the tail it read, which starts at size-len(tail).
func locateDirectory(s *source) (directoryExtent, []byte, error) {
	tail := make([]byte, min(s.size, tailLen))
	tailOff := s.size - int64(len(tail))
	if err := s.readFull(tail, tailOff); err != nil {
		return directoryExtent{}, nil, err
	}
	// archive/zip searches the last 1 KiB first, then the last 65 KiB; searching the same way
	// finds the same record when a comment contains a second signature.
	p := findEOCD(tail[max(0, len(tail)-1024):])
	if p >= 0 {
		p += max(0, len(tail)-1024)
	} else if p = findEOCD(tail); p < 0 {
		return directoryExtent{}, nil, errNotZip()
	}
	end := tail[p:]
	endOff := tailOff + int64(p)
	entries := uint64(binary.LittleEndian.Uint16(end[10:]))
	dirSize := uint64(binary.LittleEndian.Uint32(end[12:]))
	dirOff := uint64(binary.LittleEndian.Uint32(end[16:]))
	if entries == 0xffff || dirSize == 0xffff || dirOff == 0xffffffff {
		loc := make([]byte, zip64LocLen)
		if endOff >= zip64LocLen {
			if err := s.readFull(loc, endOff-zip64LocLen); err != nil {
				return directoryExtent{}, nil, err
			}
		}
		if binary.LittleEndian.Uint32(loc) == zip64LocSignature && binary.LittleEndian.Uint32(loc[4:]) == 0 &&
			binary.LittleEndian.Uint32(loc[16:]) == 1 {
			rec := binary.LittleEndian.Uint64(loc[8:])
			if rec > uint64(s.size-zip64EndLen) {
				return directoryExtent{}, nil, errNotZip()
			}
			end64 := make([]byte, zip64EndLen)
			if err := s.readFull(end64, int64(rec)); err != nil {
				return directoryExtent{}, nil, err
			}
			if binary.LittleEndian.Uint32(end64) != zip64EndSignature {
				return directoryExtent{}, nil, errNotZip()
			}
			endOff = int64(rec)
			entries = binary.LittleEndian.Uint64(end64[32:])
			dirSize = binary.LittleEndian.Uint64(end64[40:])
			dirOff = binary.LittleEndian.Uint64(end64[48:])
		}
	}
	if dirSize > uint64(s.size) || dirOff > uint64(s.size) {
		return directoryExtent{}, nil, errNotZip()
	}
	// archive/zip reads the directory either where the record says or, for archives with
	// data prepended, right before the record; cover both, and the tail it searched.
	start := min(int64(dirOff), endOff-int64(dirSize), tailOff)
	if start < 0 {
		start = min(int64(dirOff), tailOff)
	}
	return directoryExtent{entries: entries, start: start}, tail, nil
}

// findEOCD returns the offset in b of the last end-of-central-directory record whose comment
// fits in b, or -1, exactly as archive/zip's findSignatureInBlock does.
func findEOCD(b []byte) int {
	for i := len(b) - eocdLen; i >= 0; i-- {
		if binary.LittleEndian.Uint32(b[i:]) == eocdSignature {
			n := int(binary.LittleEndian.Uint16(b[i+eocdLen-2:]))
			if n+eocdLen+i > len(b) {
				return -1
			}
			return i
		}
	}
	return -1
}

// checkDirectory enforces the entry and size limits on the located directory.
func checkDirectory(ext directoryExtent, size int64, limits Limits) error {
	if ext.entries > uint64(limits.MaxEntries) {
		return apperr.New(apperr.TooLarge, "the archive has more than %d entries", limits.MaxEntries)
	}
	if size-ext.start > limits.MaxDirectoryBytes+tailLen {
		return apperr.New(apperr.TooLarge, "the archive's central directory is larger than %d bytes", limits.MaxDirectoryBytes)
	}
	return nil
}
