package upload_test

import (
	"io"
	"sync"
)

// bodyGate tells a test when the server has read a number of bytes of a request body, so that
// it cuts a connection while the upload is being written (tusd v2.8.0 has an unsynchronized
// field that the race detector flags when a request is cancelled before its body is read).
type bodyGate struct {
	mu      sync.Mutex
	want    int64
	reached chan struct{}
}

// arm makes the next body that reaches n bytes close the returned channel.
func (g *bodyGate) arm(n int64) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.want, g.reached = n, make(chan struct{})
	return g.reached
}

func (g *bodyGate) watch(body io.ReadCloser) io.ReadCloser {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.reached == nil {
		return body
	}
	w := &gatedBody{ReadCloser: body, want: g.want, reached: g.reached}
	g.reached = nil
	return w
}

type gatedBody struct {
	io.ReadCloser
	n, want int64
	reached chan struct{}
}

func (b *gatedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if b.n >= b.want && b.reached != nil {
		close(b.reached)
		b.reached = nil
	}
	return n, err
}
