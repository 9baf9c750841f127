package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mportal/mportal/media"
	"github.com/mportal/mportal/media/video"
)

// readAheadSize is how much one ranged GET to the object storage fetches while ffprobe reads.
const readAheadSize = 1 << 20

// probeObject runs ffprobe on a stored object without downloading it: a loopback HTTP server
// answers ffprobe's Range requests from Store.ReaderAt, so ffprobe reads only the headers (and
// seeks to an index at the end of the file, as phones often write it). Presigned URLs are not
// used because they point at the public endpoint, which the server may not reach.
func (s *Service) probeObject(ctx context.Context, bucket media.Bucket, key string) (video.Info, error) {
	ra, size, err := s.Store.ReaderAt(ctx, bucket, key)
	if err != nil {
		return video.Info{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return video.Info{}, fmt.Errorf("probe listener: %w", err)
	}
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeContent(w, r, "", time.Time{}, &readAhead{r: io.NewSectionReader(ra, 0, size)})
	})}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log().Warn("training: probe server", "error", err.Error())
		}
	}()
	defer func() {
		_ = srv.Close()
		<-done
	}()
	return video.Probe(ctx, "http://"+ln.Addr().String()+"/source", video.Limits{MaxDuration: s.MaxDuration})
}

// readAhead reads a SectionReader in readAheadSize pieces, so that ffprobe's small reads do
// not each become a GET.
type readAhead struct {
	r   *io.SectionReader
	pos int64
	buf []byte
	at  int64 // offset of buf[0]
}

func (a *readAhead) Read(p []byte) (int, error) {
	if a.pos < a.at || a.pos >= a.at+int64(len(a.buf)) {
		if a.pos >= a.r.Size() {
			return 0, io.EOF
		}
		if a.buf == nil {
			a.buf = make([]byte, readAheadSize)
		}
		n, err := a.r.ReadAt(a.buf[:cap(a.buf)], a.pos)
		if n == 0 {
			return 0, err
		}
		a.buf, a.at = a.buf[:n], a.pos
	}
	n := copy(p, a.buf[a.pos-a.at:])
	a.pos += int64(n)
	return n, nil
}

func (a *readAhead) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += a.pos
	case io.SeekEnd:
		offset += a.r.Size()
	default:
		return 0, errors.New("readAhead: bad whence")
	}
	if offset < 0 {
		return 0, errors.New("readAhead: negative position")
	}
	a.pos = offset
	return offset, nil
}
