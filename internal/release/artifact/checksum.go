package artifact

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// hashChunk is the read size for SHA256. Every ReadAt on object storage is a ranged GET, so
// large reads keep the request count low (50 for a 200 MB build) at a bounded memory cost.
const hashChunk = 4 << 20

// SHA256 returns the lowercase hex SHA-256 of the size bytes behind r, streaming them in
// chunks, never holding the whole file. An error from r is returned wrapped, with its code.
func SHA256(r io.ReaderAt, size int64) (string, error) {
	if size < 0 {
		return "", errors.New("artifact: sha256: negative size")
	}
	h := sha256.New()
	buf := make([]byte, min(size, hashChunk))
	// ReadFull on a section, not io.Copy, so that each ReadAt asks for a whole chunk.
	sr := io.NewSectionReader(r, 0, size)
	for total := int64(0); total < size; {
		n, err := io.ReadFull(sr, buf[:min(int64(len(buf)), size-total)])
		h.Write(buf[:n])
		total += int64(n)
		// ReadFull returns these two unwrapped only when r itself reported the end of data;
		// a storage error that merely wraps one must keep its code.
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return "", fmt.Errorf("artifact: sha256: the data ends after %d of %d bytes", total, size)
		}
		if err != nil {
			return "", fmt.Errorf("artifact: sha256: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
